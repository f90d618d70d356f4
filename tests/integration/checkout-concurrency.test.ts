import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertGame } from '../support/games.js';
import { ApiClient, type Headers } from '../support/http.js';
import { balanceOf, ledgerViolations } from '../support/ledger-invariants.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

// Wallets, checkouts, top-ups and refunds under concurrency, over HTTP on the real PostgreSQL. The shop serves
// the API only (role `api`): no worker fulfils or refunds units behind the tests' backs.

let shop: TestShop;
let http: ApiClient;
let admin: Headers;

beforeAll(async () => {
  shop = await startTestShop({ role: 'api', env: { AUTH_RATE_LIMIT_PER_IP: '10000' } });
  http = new ApiClient(shop);
  admin = await http.admin();
});
afterAll(() => shop?.dispose());

interface Customer {
  headers: Headers;
  userId: string;
}

async function customer(balanceCents = 0): Promise<Customer> {
  const { headers, userId } = await http.registered();
  if (balanceCents > 0) expect((await topUp(userId, balanceCents)).statusCode).toBe(201);
  return { headers, userId };
}

const topUp = (userId: string, amountCents: number, reference: string = randomUUID()) =>
  http.post(`/admin/users/${userId}/top-ups`, { amountCents, reference }, admin);

const checkout = (who: Customer, key: string, body: object = {}) =>
  http.post('/orders', body, { ...who.headers, 'idempotency-key': key });

const refund = (orderId: string, body: object) => http.post(`/admin/orders/${orderId}/refund`, body, admin);

const code = (response: LightMyRequestResponse) => (response.json() as { code?: string }).code;

function tally(responses: LightMyRequestResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of responses) {
    const label = r.statusCode < 300 ? String(r.statusCode) : `${r.statusCode} ${code(r)}`;
    counts[label] = (counts[label] ?? 0) + 1;
  }
  return counts;
}

async function meBalance(who: Customer): Promise<number> {
  const me = await http.get('/me', who.headers);
  expect(me.statusCode).toBe(200);
  return me.json().balanceCents;
}

async function ordersOf(userId: string) {
  return shop.db.selectFrom('orders').selectAll().where('user_id', '=', userId).execute();
}

async function entriesOf(userId: string) {
  return shop.db
    .selectFrom('transactions')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('seq')
    .execute();
}

async function unitsOf(userId: string): Promise<number> {
  const row = await sql<{
    n: number;
  }>`SELECT count(*)::int AS n FROM order_units u JOIN orders o ON o.id = u.order_id
    WHERE o.user_id = ${userId}`.execute(shop.db);
  return row.rows[0]!.n;
}

async function cartOf(who: Customer): Promise<Record<string, number>> {
  const cart = await http.get('/cart', who.headers);
  expect(cart.statusCode).toBe(200);
  return Object.fromEntries(
    cart.json().items.map((item: { gameId: string; quantity: number }) => [item.gameId, item.quantity]),
  );
}

/** What the user's orders from the cart bought, by game. */
async function orderedFromCart(userId: string): Promise<Record<string, number>> {
  const rows = await shop.db
    .selectFrom('order_lines as l')
    .innerJoin('orders as o', 'o.id', 'l.order_id')
    .select(['l.game_id', 'l.quantity'])
    .where('o.user_id', '=', userId)
    .where('o.source', '=', 'cart')
    .execute();
  const bought: Record<string, number> = {};
  for (const row of rows) bought[row.game_id] = (bought[row.game_id] ?? 0) + row.quantity;
  return bought;
}

describe('checkout against the wallet', () => {
  it('20 concurrent checkouts beyond the balance: no overdraft, exactly floor(balance / price) succeed', async () => {
    const price = 1020;
    const start = 7 * price + 500;
    const game = await insertGame(shop.db, { priceCents: price, qty: 100 });
    const who = await customer(start);

    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        checkout(who, randomUUID(), { items: [{ gameId: game, quantity: 1 }] }),
      ),
    );
    expect(tally(responses)).toEqual({ '201': 7, '402 INSUFFICIENT_FUNDS': 13 });
    const placed = responses.filter((r) => r.statusCode === 201).map((r) => r.json());
    for (const order of placed) {
      expect(order).toMatchObject({
        status: 'paid',
        totalCents: price,
        items: [{ gameId: game, quantity: 1 }],
      });
    }

    expect(await meBalance(who)).toBe(start - 7 * price);
    const orders = await ordersOf(who.userId);
    expect(orders.map((o) => o.id).sort()).toEqual(placed.map((o) => o.id).sort());
    const purchases = (await entriesOf(who.userId)).filter((e) => e.type === 'purchase');
    expect(purchases.map((e) => e.order_id).sort()).toEqual(orders.map((o) => o.id).sort());
    expect(purchases.every((e) => e.amount_cents === -price)).toBe(true);
    expect(await unitsOf(who.userId)).toBe(7);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });

  it('20 concurrent requests with one Idempotency-Key: one order, one debit, one body', async () => {
    const game = await insertGame(shop.db, { priceCents: 2500, qty: 100 });
    const who = await customer(10_000);
    const key = randomUUID();
    const body = { items: [{ gameId: game, quantity: 2 }] };

    const responses = await Promise.all(Array.from({ length: 20 }, () => checkout(who, key, body)));
    const counts = tally(responses);
    expect(Object.keys(counts).every((label) => ['201', '409 IDEMPOTENCY_KEY_IN_USE'].includes(label))).toBe(
      true,
    );
    const created = responses.filter((r) => r.statusCode === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    // The first answer and every replay that came after it finished: the same bytes.
    expect(new Set(created.map((r) => r.body)).size).toBe(1);
    // Only replays say so: exactly one of the 201s is the checkout itself.
    expect(created.filter((r) => r.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);

    const retry = await checkout(who, key, body);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.body).toBe(created[0]!.body);

    const orders = await ordersOf(who.userId);
    expect(orders.map((o) => o.id)).toEqual([retry.json().id]);
    expect((await entriesOf(who.userId)).map((e) => [e.type, e.amount_cents])).toEqual([
      ['top_up', 10_000],
      ['purchase', -5000],
    ]);
    expect(await meBalance(who)).toBe(5000);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });

  it('20 concurrent requests with one Idempotency-Key that are refused: all 402 or 409, the key stays usable', async () => {
    const game = await insertGame(shop.db, { priceCents: 2500, qty: 100 });
    const who = await customer(1000);
    const key = randomUUID();
    const body = { items: [{ gameId: game, quantity: 1 }] };

    // A refusal releases the key (it is not stored); requests that found it claimed meanwhile must still
    // answer a refusal or IN_USE, never a 500.
    const responses = await Promise.all(Array.from({ length: 20 }, () => checkout(who, key, body)));
    const counts = tally(responses);
    expect(
      Object.keys(counts).filter(
        (label) => !['402 INSUFFICIENT_FUNDS', '409 IDEMPOTENCY_KEY_IN_USE'].includes(label),
      ),
      JSON.stringify(counts),
    ).toEqual([]);
    expect(await ordersOf(who.userId)).toEqual([]);

    expect((await topUp(who.userId, 5000)).statusCode).toBe(201);
    const placed = await checkout(who, key, body);
    expect(placed.statusCode).toBe(201);
    expect(await meBalance(who)).toBe(6000 - 2500);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });
});

describe('one Idempotency-Key, several bodies or users', () => {
  it('20 concurrent requests with one key and two bodies: one order, the other body 422 or 409', async () => {
    const [a, b] = [
      await insertGame(shop.db, { priceCents: 100, qty: 100 }),
      await insertGame(shop.db, { priceCents: 200, qty: 100 }),
    ];
    const who = await customer(10_000);
    const key = randomUUID();
    const bodies = [{ items: [{ gameId: a, quantity: 1 }] }, { items: [{ gameId: b, quantity: 1 }] }];
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => checkout(who, key, bodies[i % 2]!)),
    );
    const created = responses.filter((r) => r.statusCode === 201);
    expect(new Set(created.map((r) => r.body)).size).toBe(1);
    const winner = created[0]!.json().items[0].gameId as string;
    for (const [i, r] of responses.entries()) {
      const label = r.statusCode === 201 ? '201' : `${r.statusCode} ${code(r)}`;
      if (bodies[i % 2]!.items[0]!.gameId === winner) {
        expect(['201', '409 IDEMPOTENCY_KEY_IN_USE']).toContain(label);
      } else {
        expect(['422 IDEMPOTENCY_KEY_REUSED', '409 IDEMPOTENCY_KEY_IN_USE']).toContain(label);
      }
    }
    expect(await ordersOf(who.userId)).toHaveLength(1);
    expect(await meBalance(who)).toBe(10_000 - (winner === a ? 100 : 200));
  });

  it('one key used by 10 users at once: every user gets an order of their own (keys are scoped per user)', async () => {
    const game = await insertGame(shop.db, { priceCents: 300, qty: 100 });
    const users = await Promise.all(Array.from({ length: 10 }, () => customer(1000)));
    const key = randomUUID();
    const responses = await Promise.all(
      users.map((who) => checkout(who, key, { items: [{ gameId: game, quantity: 1 }] })),
    );
    expect(tally(responses)).toEqual({ '201': 10 });
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(10);
    for (const who of users) expect(await balanceOf(shop.db, who.userId)).toBe(700);
  });
});

describe('top-ups with one reference', () => {
  it('concurrently for one user: one credit; every answer the first entry', async () => {
    const who = await customer();
    const reference = `pay-${randomUUID()}`;
    const responses = await Promise.all(Array.from({ length: 20 }, () => topUp(who.userId, 1234, reference)));
    expect(tally(responses)).toEqual({ '201': 1, '200': 19 });
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(responses[0]!.json()).toMatchObject({
      type: 'top_up',
      amountCents: 1234,
      balanceAfterCents: 1234,
    });
    expect((await entriesOf(who.userId)).map((e) => e.reference)).toEqual([reference]);
    expect(await meBalance(who)).toBe(1234);
  });

  it('concurrently for two users: one credit, the other user 422 IDEMPOTENCY_KEY_REUSED', async () => {
    const [first, second] = [await customer(), await customer()];
    const reference = `pay-${randomUUID()}`;
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => topUp((i % 2 ? first : second).userId, 500, reference)),
    );
    const credited = responses.filter((r) => r.statusCode === 201);
    expect(credited).toHaveLength(1);
    const winner = credited[0]!.json().userId as string;
    for (const [i, r] of responses.entries()) {
      const to = (i % 2 ? first : second).userId;
      if (to === winner) expect([200, 201]).toContain(r.statusCode);
      else expect([r.statusCode, code(r)]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    }
    const entries = await shop.db
      .selectFrom('transactions')
      .selectAll()
      .where('reference', '=', reference)
      .execute();
    expect(entries.map((e) => e.user_id)).toEqual([winner]);
    expect(await balanceOf(shop.db, first.userId)).toBe(winner === first.userId ? 500 : 0);
    expect(await balanceOf(shop.db, second.userId)).toBe(winner === second.userId ? 500 : 0);
  });

  it('concurrently with different amounts: one credit, the other amounts 422', async () => {
    const who = await customer();
    const reference = `pay-${randomUUID()}`;
    const responses = await Promise.all(
      Array.from({ length: 12 }, (_, i) => topUp(who.userId, 100 + (i % 3), reference)),
    );
    const credited = responses.filter((r) => r.statusCode === 201);
    expect(credited).toHaveLength(1);
    const amount = credited[0]!.json().amountCents as number;
    for (const [i, r] of responses.entries()) {
      if (100 + (i % 3) === amount) expect([200, 201]).toContain(r.statusCode);
      else expect([r.statusCode, code(r)]).toEqual([422, 'IDEMPOTENCY_KEY_REUSED']);
    }
    expect(await meBalance(who)).toBe(amount);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });
});

/**
 * Marks two units of the order's line of `gameId` delivered, with the facts a delivered unit carries when the
 * fulfilment columns exist (a stand-in key: the tests never read it).
 */
async function deliverTwoUnits(orderId: string, gameId: string): Promise<void> {
  const withKeys = await sql<{ n: number }>`SELECT count(*)::int AS n FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'order_units' AND column_name = 'key_ciphertext'`.execute(
    shop.db,
  );
  const facts = withKeys.rows[0]!.n
    ? sql`, key_ciphertext = decode('00', 'hex'), key_iv = decode('00', 'hex'),
        key_auth_tag = decode('00', 'hex'), key_key_id = 'test', delivered_at = now()`
    : sql``;
  await sql`UPDATE order_units SET state = 'delivered'${facts} WHERE id IN (
    SELECT u.id FROM order_units u JOIN order_lines l ON l.id = u.line_id
    WHERE u.order_id = ${orderId} AND l.game_id = ${gameId} ORDER BY u.id LIMIT 2)`.execute(shop.db);
  await sql`UPDATE orders SET status = 'processing' WHERE id = ${orderId}`.execute(shop.db);
}

describe('admin refunds', () => {
  it('10 concurrent refunds of each of two orders ({} and {all: true} mixed): every unit once, balance exact', async () => {
    const [a, b] = [
      await insertGame(shop.db, { priceCents: 1500, qty: 100 }),
      await insertGame(shop.db, { priceCents: 700, qty: 100 }),
    ];
    const who = await customer(50_000);
    const items = {
      items: [
        { gameId: a, quantity: 3 },
        { gameId: b, quantity: 2 },
      ],
    };
    const total = 3 * 1500 + 2 * 700;
    const onlyUndelivered = (await checkout(who, randomUUID(), items)).json().id as string;
    const mixed = (await checkout(who, randomUUID(), items)).json().id as string;
    expect(await balanceOf(shop.db, who.userId)).toBe(50_000 - 2 * total);

    // Two keys of each order delivered (as fulfilment would leave them): `{}` must leave those alone.
    for (const orderId of [onlyUndelivered, mixed]) await deliverTwoUnits(orderId, a);

    const responses = await Promise.all([
      ...Array.from({ length: 10 }, () => refund(onlyUndelivered, {})),
      ...Array.from({ length: 10 }, (_, i) => refund(mixed, i % 2 ? {} : { all: true })),
    ]);
    expect(tally(responses)).toEqual({ '200': 20 });

    const undeliveredCents = 1 * 1500 + 2 * 700;
    // Read from PostgreSQL: the order view would try to open the test's stand-in keys.
    const statuses = await shop.db
      .selectFrom('orders')
      .select(['id', 'status'])
      .where('id', 'in', [onlyUndelivered, mixed])
      .execute();
    expect(Object.fromEntries(statuses.map((o) => [o.id, o.status]))).toEqual({
      [onlyUndelivered]: 'partially_refunded',
      [mixed]: 'refunded',
    });
    const last = (orderId: string) =>
      responses
        .filter((r) => r.json().id === orderId)
        .map((r) => r.json().refundedCents as number)
        .sort((x, y) => y - x)[0];
    expect(last(onlyUndelivered)).toBe(undeliveredCents);
    expect(last(mixed)).toBe(total);

    const refunds = (await entriesOf(who.userId)).filter((e) => e.type === 'refund');
    expect(refunds.filter((e) => e.order_id === onlyUndelivered)).toHaveLength(3);
    expect(refunds.filter((e) => e.order_id === mixed)).toHaveLength(5);
    expect(new Set(refunds.map((e) => e.order_unit_id)).size).toBe(8);
    expect(await meBalance(who)).toBe(50_000 - total + undeliveredCents);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });
});

describe('the cart during a checkout from it', () => {
  it('a line added while the cart is checked out is either ordered or still in the cart', async () => {
    const [first, second] = [
      await insertGame(shop.db, { priceCents: 300, qty: 100 }),
      await insertGame(shop.db, { priceCents: 200, qty: 100 }),
    ];
    const outcomes = { ordered: 0, leftInCart: 0 };
    for (let round = 0; round < 15; round += 1) {
      const who = await customer(10_000);
      expect((await http.post('/cart/items', { gameId: first, quantity: 1 }, who.headers)).statusCode).toBe(
        201,
      );
      // Half the rounds add another game, half more of the same one.
      const added = round % 2 ? second : first;
      const [placed, add] = await Promise.all([
        checkout(who, randomUUID()),
        http.post('/cart/items', { gameId: added, quantity: 2 }, who.headers),
      ]);
      expect(placed.statusCode).toBe(201);
      expect([200, 201]).toContain(add.statusCode);

      const inOrder = Object.fromEntries(
        placed.json().items.map((i: { gameId: string; quantity: number }) => [i.gameId, i.quantity]),
      );
      const left = await cartOf(who);
      // Every unit ever put in the cart is in the order or in the cart, never both, never neither.
      const put = added === first ? { [first]: 3 } : { [first]: 1, [second]: 2 };
      const accounted: Record<string, number> = {};
      for (const [gameId, quantity] of [...Object.entries(inOrder), ...Object.entries(left)]) {
        accounted[gameId] = (accounted[gameId] ?? 0) + quantity;
      }
      expect(accounted).toEqual(put);
      // And the add happened wholly before or wholly after the checkout.
      expect([{}, added === first ? { [first]: 2 } : { [second]: 2 }]).toContainEqual(left);
      if (Object.keys(left).length === 0) outcomes.ordered += 1;
      else outcomes.leftInCart += 1;
      expect(await orderedFromCart(who.userId)).toEqual(inOrder);
    }
    expect(outcomes.ordered + outcomes.leftInCart).toBe(15);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });
});

describe('a sign-in merge during a checkout from the cart', () => {
  it('a guest line merged while the cart is checked out is either ordered or in the account cart', async () => {
    const [own, guests] = [
      await insertGame(shop.db, { priceCents: 300, qty: 100 }),
      await insertGame(shop.db, { priceCents: 200, qty: 100 }),
    ];
    for (let round = 0; round < 10; round += 1) {
      const { headers, userId, email } = await http.registered();
      const who = { headers, userId };
      expect((await topUp(userId, 10_000)).statusCode).toBe(201);
      expect((await http.post('/cart/items', { gameId: own, quantity: 1 }, headers)).statusCode).toBe(201);
      const guest = await http.guest();
      expect((await http.post('/cart/items', { gameId: guests, quantity: 2 }, guest)).statusCode).toBe(201);

      const [placed, login] = await Promise.all([
        checkout(who, randomUUID()),
        http.post('/auth/login', { email, password: 'long enough' }, guest),
      ]);
      expect(placed.statusCode).toBe(201);
      expect(login.statusCode).toBe(200);
      expect(login.json().merge.cart).toMatchObject({ merged: 1, skipped: [] });

      const inOrder = Object.fromEntries(
        placed.json().items.map((i: { gameId: string; quantity: number }) => [i.gameId, i.quantity]),
      );
      expect([{ [own]: 1 }, { [own]: 1, [guests]: 2 }]).toContainEqual(inOrder);
      const left = await cartOf(who);
      expect(left).toEqual(inOrder[guests] ? {} : { [guests]: 2 });
      expect(await cartOf({ headers: guest, userId: '' })).toEqual({});
    }
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });
});

describe('a mixed load', () => {
  it('users topping up, adding to the cart, checking out and being refunded in parallel keep every invariant', async () => {
    const games = await Promise.all(
      [150, 250, 400, 650, 999].map((priceCents) => insertGame(shop.db, { priceCents, qty: 1000 })),
    );
    const users = await Promise.all(Array.from({ length: 6 }, () => customer(20_000)));
    const deadline = Date.now() + 4000;
    const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)]!;
    const unexpected: string[] = [];
    const expectStatus = (what: string, r: LightMyRequestResponse, allowed: string[]) => {
      const label = r.statusCode < 300 ? String(r.statusCode) : `${r.statusCode} ${code(r)}`;
      if (!allowed.includes(label)) unexpected.push(`${what}: ${label} ${r.body.slice(0, 200)}`);
    };

    interface Tracked {
      /** Units put in the cart by successful adds, by game. */
      added: Record<string, number>;
      credited: number;
      charged: number;
      orders: string[];
      topUps: { reference: string; amountCents: number }[];
    }
    const tracked = new Map<string, Tracked>(
      users.map((u) => [u.userId, { added: {}, credited: 20_000, charged: 0, orders: [], topUps: [] }]),
    );

    const topUps = async (who: Customer) => {
      const mine = tracked.get(who.userId)!;
      while (Date.now() < deadline) {
        if (mine.topUps.length > 0 && Math.random() < 0.3) {
          const earlier = pick(mine.topUps);
          const again = await topUp(who.userId, earlier.amountCents, earlier.reference);
          expectStatus('top-up replay', again, ['200']);
          continue;
        }
        const entry = { reference: randomUUID(), amountCents: 500 + Math.floor(Math.random() * 5000) };
        const r = await topUp(who.userId, entry.amountCents, entry.reference);
        expectStatus('top-up', r, ['201']);
        if (r.statusCode === 201) {
          mine.topUps.push(entry);
          mine.credited += entry.amountCents;
        }
      }
    };
    const cartAdds = async (who: Customer) => {
      const mine = tracked.get(who.userId)!;
      while (Date.now() < deadline) {
        const gameId = pick(games);
        const quantity = 1 + Math.floor(Math.random() * 2);
        const r = await http.post('/cart/items', { gameId, quantity }, who.headers);
        expectStatus('cart add', r, ['200', '201', '422 QUANTITY_LIMIT']);
        if (r.statusCode < 300) mine.added[gameId] = (mine.added[gameId] ?? 0) + quantity;
      }
    };
    const checkouts = async (who: Customer) => {
      const mine = tracked.get(who.userId)!;
      while (Date.now() < deadline) {
        const fromCart = Math.random() < 0.5;
        const items = fromCart
          ? undefined
          : [...new Set([pick(games), pick(games)])].map((gameId) => ({
              gameId,
              quantity: 1 + Math.floor(Math.random() * 3),
            }));
        const r = await checkout(who, randomUUID(), items ? { items } : {});
        expectStatus(
          fromCart ? 'cart checkout' : 'items checkout',
          r,
          fromCart ? ['201', '402 INSUFFICIENT_FUNDS', '422 CART_EMPTY'] : ['201', '402 INSUFFICIENT_FUNDS'],
        );
        if (r.statusCode !== 201) continue;
        const order = r.json() as {
          id: string;
          totalCents: number;
          items: { gameId: string; quantity: number }[];
        };
        mine.orders.push(order.id);
        mine.charged += order.totalCents;
        if (items) {
          expect(order.items.map((i) => [i.gameId, i.quantity])).toEqual(
            items.map((i) => [i.gameId, i.quantity]),
          );
        }
      }
    };
    const refunds = async (who: Customer) => {
      const mine = tracked.get(who.userId)!;
      while (Date.now() < deadline) {
        if (mine.orders.length === 0) {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        // Mostly recent orders, which are likelier to have something left to refund.
        const r = await refund(pick(mine.orders.slice(-4)), Math.random() < 0.5 ? {} : { all: true });
        expectStatus('refund', r, ['200']);
      }
    };

    // Reads fill the cache while the writes invalidate it: a reader that loses a race must not leave its old
    // copy behind.
    const reads = async (who: Customer) => {
      const mine = tracked.get(who.userId)!;
      while (Date.now() < deadline) {
        expectStatus('order list', await http.get('/orders?pageSize=100', who.headers), ['200']);
        if (mine.orders.length > 0) {
          expectStatus('order', await http.get(`/orders/${pick(mine.orders.slice(-4))}`, who.headers), [
            '200',
          ]);
        }
      }
    };

    await Promise.all(
      users.flatMap((who) => [topUps(who), cartAdds(who), checkouts(who), refunds(who), reads(who)]),
    );
    expect(unexpected).toEqual([]);

    expect(await ledgerViolations(shop.db)).toEqual([]);
    for (const who of users) {
      const mine = tracked.get(who.userId)!;
      const entries = await entriesOf(who.userId);
      const refunded = entries.filter((e) => e.type === 'refund').reduce((sum, e) => sum + e.amount_cents, 0);
      const balance = await meBalance(who);
      expect(balance).toBe(mine.credited - mine.charged + refunded);
      expect(balance).toBe(entries.at(-1)!.balance_after_cents);
      expect(entries.filter((e) => e.type === 'top_up')).toHaveLength(mine.topUps.length + 1);
      expect((await ordersOf(who.userId)).map((o) => o.id).sort()).toEqual([...mine.orders].sort());

      // Every unit a successful add put in the cart was ordered from the cart exactly once, or is still there.
      const fromCart = await orderedFromCart(who.userId);
      const left = await cartOf(who);
      const accounted: Record<string, number> = {};
      for (const [gameId, quantity] of [...Object.entries(fromCart), ...Object.entries(left)]) {
        accounted[gameId] = (accounted[gameId] ?? 0) + quantity;
      }
      expect(accounted).toEqual(mine.added);

      // The cached order list and orders converge on PostgreSQL (no worker runs: only the after-commit
      // deletions and the no-stale-set fills keep them right).
      const truth = (await ordersOf(who.userId))
        .map((o) => ({ id: o.id, status: o.status, totalCents: o.total_cents }))
        .sort((x, y) => (x.id < y.id ? -1 : 1));
      const served = async () => {
        const list = await http.get('/orders?pageSize=100', who.headers);
        return (list.json().items as { id: string; status: string; totalCents: number }[])
          .map((o) => ({ id: o.id, status: o.status, totalCents: o.totalCents }))
          .sort((x, y) => (x.id < y.id ? -1 : 1));
      };
      await waitFor(
        async () => JSON.stringify(await served()) === JSON.stringify(truth),
        'order list',
        5000,
      ).catch(async () => expect(await served()).toEqual(truth));
      for (const o of truth) {
        await waitFor(
          async () => (await http.get(`/orders/${o.id}`, who.headers)).json().status === o.status,
          `order ${o.id}`,
          5000,
        ).catch(async () => expect((await http.get(`/orders/${o.id}`, who.headers)).json()).toMatchObject(o));
      }
    }
  });
});
