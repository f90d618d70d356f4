import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCartItem } from '../../src/application/add-cart-item.js';
import { getCart } from '../../src/application/get-cart.js';
import { listOrders } from '../../src/application/list-orders.js';
import { toOrderView, type OrderView } from '../../src/application/order-views.js';
import { placeOrder, type PlaceOrderInput } from '../../src/application/place-order.js';
import { cacheKeys } from '../../src/domain/cache-keys.js';
import { IDEMPOTENCY_KEY_TTL_HOURS } from '../../src/domain/idempotency.js';
import { MAX_ORDER_LINES, type OrderItemRequest } from '../../src/domain/order.js';
import { deferred } from '../support/deferred.js';
import { expectDomainError } from '../support/errors.js';
import { insertGame, updateGame, type TestGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';
import { waitFor } from '../support/wait-for.js';
import { balanceOf, fund, ledgerOf, requestHashOf, snapshot } from '../support/wallet.js';

const UNKNOWN_GAME = '00000000-0000-4000-8000-000000000000';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

const deps = () => ({ uow: ground.uow, clock: ground.clock, logger: ground.logger });
const place = (input: PlaceOrderInput) => placeOrder(deps(), input);
const game = (values?: TestGame) => insertGame(ground.db, values);
const addToCart = (userId: string, gameId: string, quantity: number) =>
  addCartItem({ uow: ground.uow }, { owner: { kind: 'user', userId }, gameId, quantity });
const cartOf = (userId: string) => ground.readers.carts.lines({ kind: 'user', userId });
const ordersOf = (userId: string) => ground.readers.orders.listByUser(userId);

/** A fresh user with this much in the wallet. */
async function customer(balanceCents = 100_000): Promise<string> {
  const userId = await ground.newUser();
  if (balanceCents > 0) await fund(ground, userId, balanceCents);
  return userId;
}

async function costOf(gameId: string): Promise<number> {
  const row = await ground.db
    .selectFrom('games')
    .select('cost_cents')
    .where('id', '=', gameId)
    .executeTakeFirstOrThrow();
  return row.cost_cents;
}

/** Backends of this database waiting for a lock. */
async function waitingOnLocks(): Promise<number> {
  const row = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
    WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(ground.db);
  return row.rows[0]!.n;
}

/** The key as stored, or undefined. */
const storedKey = (userId: string, key: string) =>
  ground.db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('user_id', '=', userId)
    .where('key', '=', key)
    .executeTakeFirst();

/** The call is refused with this code (and details) and every row and message it could touch is as it was. */
async function expectRefusedUnchanged(
  userId: string,
  call: () => Promise<unknown>,
  code: string,
  details?: object,
) {
  const before = await snapshot(ground, userId);
  await expectDomainError(call(), code, details);
  expect(await snapshot(ground, userId)).toEqual(before);
}

describe('placeOrder from the cart', () => {
  it('places a paid order at current prices and G2A costs, one unit per key, debits the wallet, empties the cart and invalidates', async () => {
    const userId = await customer(10_000);
    const alpha = await game({ name: 'Alpha', priceCents: 1530 });
    const beta = await game({ name: 'Beta', priceCents: 1020 });
    await addToCart(userId, alpha, 2);
    await addToCart(userId, beta, 1);
    await ground.clearOutbox();
    const key = randomUUID();

    const placed = await place({ userId, idempotencyKey: key });

    expect(placed.status).toBe(201);
    expect(placed.replayed).toBe(false);
    const body = JSON.parse(placed.body) as OrderView;
    expect(body).toEqual({
      id: expect.any(String),
      status: 'paid',
      totalCents: 4080,
      refundedCents: 0,
      currency: 'EUR',
      items: [
        { gameId: alpha, name: 'Alpha', quantity: 2, unitPriceCents: 1530, delivered: 0, refunded: 0 },
        { gameId: beta, name: 'Beta', quantity: 1, unitPriceCents: 1020, delivered: 0, refunded: 0 },
      ],
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });

    const stored = (await ground.readers.orders.findById(body.id))!;
    expect(stored).toMatchObject({ userId, status: 'paid', totalCents: 4080, source: 'cart' });
    expect(
      stored.lines.map((line) => [line.gameId, line.quantity, line.unitPriceCents, line.unitCostCents]),
    ).toEqual([
      [alpha, 2, 1530, await costOf(alpha)],
      [beta, 1, 1020, await costOf(beta)],
    ]);
    expect(stored.lines.every((line) => line.g2aProductId.startsWith('test-'))).toBe(true);
    expect(stored.units).toHaveLength(3);
    expect(stored.units.every((unit) => unit.state === 'pending')).toBe(true);
    expect(stored.units.filter((unit) => unit.lineId === stored.lines[0]!.id)).toHaveLength(2);
    expect(stored.units.filter((unit) => unit.lineId === stored.lines[1]!.id)).toHaveLength(1);
    expect(body).toEqual(toOrderView(stored));

    const ledger = await ledgerOf(ground, userId);
    expect(
      ledger.map((entry) => [entry.seq, entry.type, entry.amount_cents, entry.balance_after_cents]),
    ).toEqual([
      [1, 'top_up', 10_000, 10_000],
      [2, 'purchase', -4080, 5920],
    ]);
    expect(ledger[1]).toMatchObject({ order_id: body.id, order_unit_id: null, reference: null });
    expect(await balanceOf(ground, userId)).toBe(5920);
    expect(await cartOf(userId)).toEqual([]);

    const invalidations = await ground.outbox('cache.invalidate');
    expect(invalidations).toHaveLength(1);
    expect([...invalidations[0]!.keys!].sort()).toEqual(
      [cacheKeys.order(body.id), cacheKeys.userOrders(userId), cacheKeys.userCart(userId)].sort(),
    );

    // The key is done with this very response, under the hash of "the cart".
    expect(await storedKey(userId, key)).toMatchObject({
      response_status: 201,
      response_body: placed.body,
      request_hash: requestHashOf(),
    });
  });

  it('charges the price the game has at checkout, not the one it had when it was put in the cart', async () => {
    const userId = await customer(10_000);
    const gameId = await game({ priceCents: 1020 });
    await addToCart(userId, gameId, 2);
    await updateGame(ground.db, gameId, { priceCents: 1530 });

    const placed = await place({ userId, idempotencyKey: randomUUID() });

    const body = JSON.parse(placed.body) as OrderView;
    expect(body.items[0]).toMatchObject({ gameId, unitPriceCents: 1530 });
    expect(body.totalCents).toBe(3060);
    const stored = (await ground.readers.orders.findById(body.id))!;
    expect(stored.lines[0]!.unitCostCents).toBe(await costOf(gameId));
    expect(await balanceOf(ground, userId)).toBe(10_000 - 3060);
  });

  it('deletes the cached cart and order list at once after commit (read-your-writes)', async () => {
    const userId = await customer(10_000);
    const gameId = await game();
    await addToCart(userId, gameId, 1);
    const readers = { orders: ground.readers.orders, cache: ground.cache };
    await listOrders(readers, { userId, page: 1, pageSize: 10 });
    await getCart({ carts: ground.readers.carts, cache: ground.cache }, { kind: 'user', userId });
    expect(await ground.redis!.hget(cacheKeys.userOrders(userId), 'd')).not.toBeNull();
    expect(await ground.redis!.hget(cacheKeys.userCart(userId), 'd')).not.toBeNull();

    await place({ userId, idempotencyKey: randomUUID() });

    expect(await ground.redis!.hget(cacheKeys.userOrders(userId), 'd')).toBeNull();
    expect(await ground.redis!.hget(cacheKeys.userCart(userId), 'd')).toBeNull();
    expect((await listOrders(readers, { userId, page: 1, pageSize: 10 })).total).toBe(1);
  });
});

describe('placeOrder from an explicit item list', () => {
  it('orders the list as given, leaves the cart alone and does not invalidate it', async () => {
    const userId = await customer(10_000);
    const inCart = await game();
    const first = await game({ priceCents: 2040 });
    const second = await game({ priceCents: 510 });
    await addToCart(userId, inCart, 3);
    const cartBefore = await cartOf(userId);
    await ground.clearOutbox();

    const placed = await place({
      userId,
      idempotencyKey: randomUUID(),
      items: [
        { gameId: first, quantity: 1 },
        { gameId: second, quantity: 4 },
      ],
    });

    const body = JSON.parse(placed.body) as OrderView;
    expect(body.items.map((item) => [item.gameId, item.quantity, item.unitPriceCents])).toEqual([
      [first, 1, 2040],
      [second, 4, 510],
    ]);
    expect(body.totalCents).toBe(4080);
    const stored = (await ground.readers.orders.findById(body.id))!;
    expect(stored.source).toBe('items');
    expect(stored.units).toHaveLength(5);
    expect(body).toEqual(toOrderView(stored));
    expect(await cartOf(userId)).toEqual(cartBefore);
    expect(await balanceOf(ground, userId)).toBe(10_000 - 4080);
    const invalidations = await ground.outbox('cache.invalidate');
    expect(invalidations).toHaveLength(1);
    expect([...invalidations[0]!.keys!].sort()).toEqual(
      [cacheKeys.order(body.id), cacheKeys.userOrders(userId)].sort(),
    );
  });

  it('orders a game named by its id in capitals', async () => {
    const userId = await customer(10_000);
    const gameId = await game({ priceCents: 1020 });

    const placed = await place({
      userId,
      idempotencyKey: randomUUID(),
      items: [{ gameId: gameId.toUpperCase(), quantity: 1 }],
    });

    expect((JSON.parse(placed.body) as OrderView).items[0]).toMatchObject({ gameId, unitPriceCents: 1020 });
  });

  it('may spend the wallet down to exactly zero', async () => {
    const userId = await customer(2040);
    const gameId = await game({ priceCents: 1020 });

    await place({ userId, idempotencyKey: randomUUID(), items: [{ gameId, quantity: 2 }] });

    expect(await balanceOf(ground, userId)).toBe(0);
    expect((await ledgerOf(ground, userId)).at(-1)).toMatchObject({
      amount_cents: -2040,
      balance_after_cents: 0,
    });
  });
});

describe('placeOrder refusals change nothing and leave the key usable', () => {
  it('CART_EMPTY for an empty cart; the same key works once the cart holds something', async () => {
    const userId = await customer();
    const key = randomUUID();

    await expectRefusedUnchanged(userId, () => place({ userId, idempotencyKey: key }), 'CART_EMPTY');
    expect(await storedKey(userId, key)).toBeUndefined();

    await addToCart(userId, await game(), 1);
    const placed = await place({ userId, idempotencyKey: key });
    expect(placed.replayed).toBe(false);
    expect(await ordersOf(userId)).toHaveLength(1);
  });

  it('CART_EMPTY for `items: []`, which does not fall back to the cart', async () => {
    const userId = await customer();
    const gameId = await game();
    await addToCart(userId, gameId, 1);
    const key = randomUUID();

    await expectRefusedUnchanged(
      userId,
      () => place({ userId, idempotencyKey: key, items: [] }),
      'CART_EMPTY',
    );

    await place({ userId, idempotencyKey: key, items: [{ gameId, quantity: 1 }] });
    expect(await ordersOf(userId)).toHaveLength(1);
    expect(await cartOf(userId)).toHaveLength(1);
  });

  it('VALIDATION_FAILED for a game listed twice, naming the field', async () => {
    const userId = await customer();
    const gameId = await game();
    const key = randomUUID();

    await expectRefusedUnchanged(
      userId,
      () =>
        place({
          userId,
          idempotencyKey: key,
          items: [
            { gameId, quantity: 1 },
            { gameId, quantity: 2 },
          ],
        }),
      'VALIDATION_FAILED',
      { field: 'items' },
    );

    await place({ userId, idempotencyKey: key, items: [{ gameId, quantity: 3 }] });
    expect((await ordersOf(userId))[0]!.units).toHaveLength(3);
  });

  it.each([0, -1, 1.5])('VALIDATION_FAILED for quantity %s', async (quantity) => {
    const userId = await customer();
    const gameId = await game();
    const key = randomUUID();

    await expectRefusedUnchanged(
      userId,
      () => place({ userId, idempotencyKey: key, items: [{ gameId, quantity }] }),
      'VALIDATION_FAILED',
      { field: 'items.quantity' },
    );

    await place({ userId, idempotencyKey: key, items: [{ gameId, quantity: 1 }] });
    expect(await ordersOf(userId)).toHaveLength(1);
  });

  it('QUANTITY_LIMIT for 11 units of one game; 10 pass', async () => {
    const userId = await customer();
    const gameId = await game({ qty: 20 });
    const key = randomUUID();

    await expectRefusedUnchanged(
      userId,
      () => place({ userId, idempotencyKey: key, items: [{ gameId, quantity: 11 }] }),
      'QUANTITY_LIMIT',
    );

    await place({ userId, idempotencyKey: key, items: [{ gameId, quantity: 10 }] });
    expect((await ordersOf(userId))[0]!.units).toHaveLength(10);
  });

  it(`VALIDATION_FAILED for more than ${MAX_ORDER_LINES} different games`, async () => {
    const userId = await customer();
    const items = Array.from({ length: MAX_ORDER_LINES + 1 }, () => ({ gameId: randomUUID(), quantity: 1 }));

    await expectRefusedUnchanged(
      userId,
      () => place({ userId, idempotencyKey: randomUUID(), items }),
      'VALIDATION_FAILED',
      { field: 'items' },
    );
  });

  it('GAME_NOT_FOUND for an unknown id, with the unknown ids', async () => {
    const userId = await customer();
    const gameId = await game();
    const key = randomUUID();

    await expectRefusedUnchanged(
      userId,
      () =>
        place({
          userId,
          idempotencyKey: key,
          items: [
            { gameId, quantity: 1 },
            { gameId: UNKNOWN_GAME, quantity: 1 },
          ],
        }),
      'GAME_NOT_FOUND',
      { gameIds: [UNKNOWN_GAME] },
    );

    await place({ userId, idempotencyKey: key, items: [{ gameId, quantity: 1 }] });
    expect(await ordersOf(userId)).toHaveLength(1);
  });

  const unsellable: [string, TestGame, number, object][] = [
    ['qty 0', { qty: 0 }, 1, { reason: 'out_of_stock', requested: 1, available: 0 }],
    [
      'not available to buy',
      { availableToBuy: false },
      1,
      { reason: 'out_of_stock', requested: 1, available: 0 },
    ],
    ['delisted', { delisted: true }, 1, { reason: 'delisted', requested: 1, available: 0 }],
    [
      'fewer in stock than asked',
      { qty: 2 },
      3,
      { reason: 'insufficient_stock', requested: 3, available: 2 },
    ],
  ];

  describe.each(['cart', 'items'] as const)('OUT_OF_STOCK (from %s)', (source) => {
    it.each(unsellable)('%s', async (_, change, quantity, detail) => {
      const userId = await customer();
      const fine = await game();
      const gameId = await game({ qty: 5 });
      const items: OrderItemRequest[] = [
        { gameId: fine, quantity: 1 },
        { gameId, quantity },
      ];
      if (source === 'cart') {
        for (const item of items) await addToCart(userId, item.gameId, item.quantity);
      }
      await updateGame(ground.db, gameId, change);
      await ground.clearOutbox();
      const input = { userId, idempotencyKey: randomUUID(), ...(source === 'items' ? { items } : {}) };

      await expectRefusedUnchanged(userId, () => place(input), 'OUT_OF_STOCK', {
        games: [{ gameId, ...detail }],
      });

      await updateGame(ground.db, gameId, { qty: 5, availableToBuy: true, delisted: false });
      const placed = await place(input);
      expect(placed.replayed).toBe(false);
      expect((await ordersOf(userId))[0]!.units).toHaveLength(1 + quantity);
      expect(await cartOf(userId)).toEqual([]);
    });
  });

  it.each(['cart', 'items'] as const)(
    'INSUFFICIENT_FUNDS (from %s) with the total and balance; after a top-up the same key succeeds',
    async (source) => {
      const userId = await customer(1000);
      const gameId = await game({ priceCents: 1020 });
      if (source === 'cart') await addToCart(userId, gameId, 1);
      await ground.clearOutbox();
      const input = {
        userId,
        idempotencyKey: randomUUID(),
        ...(source === 'items' ? { items: [{ gameId, quantity: 1 }] } : {}),
      };

      await expectRefusedUnchanged(userId, () => place(input), 'INSUFFICIENT_FUNDS', {
        totalCents: 1020,
        balanceCents: 1000,
      });

      await fund(ground, userId, 20);
      const placed = await place(input);
      expect(placed.replayed).toBe(false);
      expect(await balanceOf(ground, userId)).toBe(0);
      expect(await ordersOf(userId)).toHaveLength(1);
      expect(await cartOf(userId)).toEqual([]);
    },
  );
});

describe('placeOrder idempotency', () => {
  it('replays the first response byte for byte for the same key and body, charging once', async () => {
    const userId = await customer(10_000);
    const gameId = await game({ priceCents: 1020 });
    const items = [{ gameId, quantity: 2 }];
    const key = randomUUID();
    const first = await place({ userId, idempotencyKey: key, items });
    await ground.clearOutbox();
    // Neither a price change nor the stock running out changes the answer to a replay.
    await updateGame(ground.db, gameId, { priceCents: 9999, qty: 0 });

    const second = await place({ userId, idempotencyKey: key, items });
    const third = await place({
      userId,
      idempotencyKey: key,
      items: [{ gameId: gameId.toUpperCase(), quantity: 2 }],
    });

    expect(second).toEqual({ status: 201, body: first.body, replayed: true });
    expect(third).toEqual({ status: 201, body: first.body, replayed: true });
    expect(await ordersOf(userId)).toHaveLength(1);
    expect((await ledgerOf(ground, userId)).filter((entry) => entry.type === 'purchase')).toHaveLength(1);
    expect(await balanceOf(ground, userId)).toBe(10_000 - 2040);
    expect(await ground.outbox('cache.invalidate')).toEqual([]);
  });

  it('replays a cart checkout although the cart is empty (or different) by then', async () => {
    const userId = await customer(10_000);
    await addToCart(userId, await game(), 1);
    const key = randomUUID();
    const first = await place({ userId, idempotencyKey: key });
    await addToCart(userId, await game(), 3);

    const second = await place({ userId, idempotencyKey: key });

    expect(second).toEqual({ status: 201, body: first.body, replayed: true });
    expect(await ordersOf(userId)).toHaveLength(1);
    expect(await cartOf(userId)).toHaveLength(1);
  });

  it.each<[string, OrderItemRequest[] | undefined, OrderItemRequest[] | undefined]>([
    ['another quantity', [{ gameId: 'A', quantity: 1 }], [{ gameId: 'A', quantity: 2 }]],
    ['another game', [{ gameId: 'A', quantity: 1 }], [{ gameId: 'B', quantity: 1 }]],
    ['the cart after a list', [{ gameId: 'A', quantity: 1 }], undefined],
    ['a list after the cart', undefined, [{ gameId: 'A', quantity: 1 }]],
  ])(
    'IDEMPOTENCY_KEY_REUSED for the same key with %s, changing nothing',
    async (_, firstBody, secondBody) => {
      const userId = await customer(10_000);
      const ids: Record<string, string> = { A: await game(), B: await game() };
      const resolve = (items?: OrderItemRequest[]) =>
        items?.map((item) => ({ gameId: ids[item.gameId]!, quantity: item.quantity }));
      await addToCart(userId, ids.A!, 1);
      const key = randomUUID();
      const first = await place({ userId, idempotencyKey: key, items: resolve(firstBody) });
      await addToCart(userId, ids.B!, 1);
      await ground.clearOutbox();

      await expectRefusedUnchanged(
        userId,
        () => place({ userId, idempotencyKey: key, items: resolve(secondBody) }),
        'IDEMPOTENCY_KEY_REUSED',
        { field: 'idempotency-key' },
      );

      // The key still answers its own body.
      expect((await place({ userId, idempotencyKey: key, items: resolve(firstBody) })).body).toBe(first.body);
    },
  );

  /** Holds the key as a running request does (its transaction's advisory lock) until `release()`. */
  async function holdKey(userId: string, key: string) {
    const held = deferred();
    const release = deferred();
    const holder = ground.db.transaction().execute(async (tx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`idempotency:${userId}:${key}`}, 0))`.execute(
        tx,
      );
      held.resolve();
      await release.promise;
      throw new Error('the holder died');
    });
    await held.promise;
    return {
      release: async () => {
        release.resolve();
        await holder.catch(() => undefined);
      },
    };
  }

  it('IDEMPOTENCY_KEY_IN_USE while another request holds the key, whatever the body; nothing stored', async () => {
    const userId = await customer(10_000);
    const gameId = await game();
    const items = [{ gameId, quantity: 1 }];
    const key = randomUUID();
    const holder = await holdKey(userId, key);
    await ground.clearOutbox();
    try {
      await expectRefusedUnchanged(
        userId,
        () => place({ userId, idempotencyKey: key, items }),
        'IDEMPOTENCY_KEY_IN_USE',
        { field: 'idempotency-key' },
      );
      await expectRefusedUnchanged(
        userId,
        () => place({ userId, idempotencyKey: key, items: [{ gameId, quantity: 2 }] }),
        'IDEMPOTENCY_KEY_IN_USE',
      );
      expect(await storedKey(userId, key)).toBeUndefined();
    } finally {
      await holder.release();
    }
  });

  it('IDEMPOTENCY_KEY_IN_USE at once for a second request while the first one is still running', async () => {
    const userId = await customer(10_000);
    const gameId = await game();
    const items = [{ gameId, quantity: 1 }];
    const key = randomUUID();
    const locked = deferred();
    const hold = deferred();
    // Another transaction holds the wallet, so the first checkout waits inside its transaction, key taken.
    const blocker = ground.db.transaction().execute(async (tx) => {
      await sql`SELECT 1 FROM users WHERE id = ${userId} FOR NO KEY UPDATE`.execute(tx);
      locked.resolve();
      await hold.promise;
    });
    await locked.promise;
    const first = place({ userId, idempotencyKey: key, items });
    let second: Promise<unknown> | undefined;
    try {
      await waitFor(async () => (await waitingOnLocks()) >= 1, 'the first checkout waits for the wallet');
      second = place({ userId, idempotencyKey: key, items });
      const outcome = await Promise.race([
        second.then(
          () => 'answered',
          (error: { code?: string }) => error.code,
        ),
        new Promise((resolve) => setTimeout(() => resolve('still waiting'), 1000)),
      ]);
      expect(outcome).toBe('IDEMPOTENCY_KEY_IN_USE');
    } finally {
      hold.resolve();
      await blocker;
      await first;
      await second?.catch(() => undefined);
    }
    expect(await ordersOf(userId)).toHaveLength(1);
  });

  it('a request that died holding the key leaves nothing behind: the key works at once', async () => {
    const userId = await customer(10_000);
    const gameId = await game();
    const items = [{ gameId, quantity: 1 }];
    const key = randomUUID();
    const holder = await holdKey(userId, key);
    await expectDomainError(place({ userId, idempotencyKey: key, items }), 'IDEMPOTENCY_KEY_IN_USE');
    await holder.release();

    const placed = await place({ userId, idempotencyKey: key, items });

    expect(placed.replayed).toBe(false);
    expect(await ordersOf(userId)).toHaveLength(1);
    expect(await storedKey(userId, key)).toMatchObject({ response_status: 201, response_body: placed.body });
  });

  it('a key older than 24 h counts as unused: the same key and body place a second order', async () => {
    const userId = await customer(10_000);
    const gameId = await game({ priceCents: 1020 });
    const items = [{ gameId, quantity: 1 }];
    const key = randomUUID();
    const first = await place({ userId, idempotencyKey: key, items });

    ground.clock.advance(IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000 - 1000);
    expect((await place({ userId, idempotencyKey: key, items })).replayed).toBe(true);
    ground.clock.advance(2000);

    const second = await place({ userId, idempotencyKey: key, items });

    expect(second.replayed).toBe(false);
    expect(second.body).not.toBe(first.body);
    expect(await ordersOf(userId)).toHaveLength(2);
    expect(await balanceOf(ground, userId)).toBe(10_000 - 2040);
    // And another body is welcome too once a key is that old.
    ground.clock.advance(IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000 + 1000);
    await place({ userId, idempotencyKey: key, items: [{ gameId, quantity: 2 }] });
    expect(await ordersOf(userId)).toHaveLength(3);
  });

  it('keys are per user: two users with one key place two orders', async () => {
    const alice = await customer(10_000);
    const bob = await customer(10_000);
    const gameId = await game({ priceCents: 1020 });
    const items = [{ gameId, quantity: 1 }];
    const key = randomUUID();

    const forAlice = await place({ userId: alice, idempotencyKey: key, items });
    const forBob = await place({ userId: bob, idempotencyKey: key, items });

    expect(forBob.replayed).toBe(false);
    expect(forBob.body).not.toBe(forAlice.body);
    expect(await ordersOf(alice)).toHaveLength(1);
    expect(await ordersOf(bob)).toHaveLength(1);
    expect(await balanceOf(ground, alice)).toBe(10_000 - 1020);
    expect(await balanceOf(ground, bob)).toBe(10_000 - 1020);
  });

  it('concurrent requests with one key place one order', async () => {
    const userId = await customer(10_000);
    const gameId = await game({ priceCents: 1020 });
    const items = [{ gameId, quantity: 1 }];
    const key = randomUUID();

    const results = await Promise.allSettled(
      Array.from({ length: 6 }, () => place({ userId, idempotencyKey: key, items })),
    );

    const placed = results.filter((result) => result.status === 'fulfilled');
    const refused = results.filter((result) => result.status === 'rejected');
    expect(placed.length).toBeGreaterThanOrEqual(1);
    for (const result of refused) expect(result.reason).toMatchObject({ code: 'IDEMPOTENCY_KEY_IN_USE' });
    const bodies = new Set(placed.map((result) => result.value.body));
    expect(bodies.size).toBe(1);
    expect(placed.filter((result) => !result.value.replayed)).toHaveLength(1);
    expect(await ordersOf(userId)).toHaveLength(1);
    expect(await balanceOf(ground, userId)).toBe(10_000 - 1020);
  });

  it('concurrent checkouts with different keys never overdraw the wallet', async () => {
    const userId = await customer(3500);
    const gameId = await game({ priceCents: 1020, qty: 100 });

    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        place({ userId, idempotencyKey: randomUUID(), items: [{ gameId, quantity: 1 }] }),
      ),
    );

    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(3);
    for (const result of results) {
      if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 'INSUFFICIENT_FUNDS' });
    }
    expect(await balanceOf(ground, userId)).toBe(3500 - 3 * 1020);
    const ledger = await ledgerOf(ground, userId);
    expect(ledger.reduce((sum, entry) => sum + entry.amount_cents, 0)).toBe(await balanceOf(ground, userId));
    expect(ledger.map((entry) => entry.seq)).toEqual([1, 2, 3, 4]);
  });
});

describe('placeOrder for an account that is gone', () => {
  it('UNAUTHORIZED for a user id that never existed', async () => {
    const userId = randomUUID();
    const gameId = await game();

    await expectDomainError(
      place({ userId, idempotencyKey: randomUUID(), items: [{ gameId, quantity: 1 }] }),
      'UNAUTHORIZED',
    );

    expect(await ground.db.selectFrom('orders').where('user_id', '=', userId).selectAll().execute()).toEqual(
      [],
    );
  });

  it('UNAUTHORIZED for a user that was deleted', async () => {
    const userId = await ground.newUser();
    await sql`DELETE FROM users WHERE id = ${userId}`.execute(ground.db);

    await expectDomainError(place({ userId, idempotencyKey: randomUUID() }), 'UNAUTHORIZED');
  });
});
