import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOrder } from '../../src/application/get-order.js';
import { listOrders } from '../../src/application/list-orders.js';
import { listTransactions } from '../../src/application/list-transactions.js';
import { toOrderView, type OrderView } from '../../src/application/order-views.js';
import { purgeIdempotencyKeys } from '../../src/application/purge-idempotency-keys.js';
import { refundOrder } from '../../src/application/refund-order.js';
import { cacheKeys } from '../../src/domain/cache-keys.js';
import { IDEMPOTENCY_KEY_TTL_HOURS } from '../../src/domain/idempotency.js';
import type { OrderReader } from '../../src/ports/orders.js';
import { expectDomainError } from '../support/errors.js';
import { insertGame } from '../support/games.js';
import { countRows, startGround, type Ground } from '../support/ground.js';
import { fund, order } from '../support/wallet.js';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

/** The order reader, counted: every load is a cache miss. */
function countedReader() {
  const loads = { findById: 0, listByUser: 0 };
  const orders: OrderReader = {
    findById: (orderId) => {
      loads.findById += 1;
      return ground.readers.orders.findById(orderId);
    },
    listByUser: (userId) => {
      loads.listByUser += 1;
      return ground.readers.orders.listByUser(userId);
    },
  };
  return {
    loads,
    deps: { orders, cache: ground.cache, fulfilment: ground.readers.fulfilment, vault: ground.vault },
  };
}

/** A fresh user with `count` orders of one unit each (prices 1000, 1010, …), placed one after another. */
async function customerWithOrders(count: number) {
  const userId = await ground.newUser();
  await fund(ground, userId, 100_000);
  const orders: OrderView[] = [];
  for (let index = 0; index < count; index++) {
    const gameId = await insertGame(ground.db, { priceCents: 1000 + 10 * index });
    orders.push(await order(ground, { userId, items: [{ gameId, quantity: 1 }] }));
  }
  return { userId, orders };
}

const cachedOrder = async (orderId: string) => ground.redis!.hget(cacheKeys.order(orderId), 'd');

describe('listOrders', () => {
  it('answers the user’s orders newest first, paginated, with the total', async () => {
    const { userId, orders } = await customerWithOrders(5);
    await customerWithOrders(1);
    const { deps } = countedReader();
    const newestFirst = [...orders].reverse();

    const first = await listOrders(deps, { userId, page: 1, pageSize: 2 });
    const second = await listOrders(deps, { userId, page: 2, pageSize: 2 });
    const third = await listOrders(deps, { userId, page: 3, pageSize: 2 });
    const beyond = await listOrders(deps, { userId, page: 4, pageSize: 2 });

    expect(first).toEqual({ items: newestFirst.slice(0, 2), page: 1, pageSize: 2, total: 5 });
    expect(second).toEqual({ items: newestFirst.slice(2, 4), page: 2, pageSize: 2, total: 5 });
    expect(third).toEqual({ items: newestFirst.slice(4), page: 3, pageSize: 2, total: 5 });
    expect(beyond).toEqual({ items: [], page: 4, pageSize: 2, total: 5 });
    expect(first.items.map((item) => item.totalCents)).toEqual([1040, 1030]);
  });

  it('answers an empty page for a user without orders', async () => {
    const userId = await ground.newUser();

    expect(await listOrders(countedReader().deps, { userId, page: 1, pageSize: 20 })).toEqual({
      items: [],
      page: 1,
      pageSize: 20,
      total: 0,
    });
  });

  it('reads the list once into the cache, and again after a change of one of the orders', async () => {
    const { userId, orders } = await customerWithOrders(2);
    const { loads, deps } = countedReader();

    await listOrders(deps, { userId, page: 1, pageSize: 10 });
    const cached = await listOrders(deps, { userId, page: 2, pageSize: 1 });
    expect(loads.listByUser).toBe(1);
    expect(cached.items).toEqual([orders[0]]);

    await refundOrder({ uow: ground.uow, logger: ground.logger }, { orderId: orders[0]!.id, all: false });
    const after = await listOrders(deps, { userId, page: 1, pageSize: 10 });

    expect(loads.listByUser).toBe(2);
    expect(after.items.map((item) => item.status)).toEqual(['paid', 'refunded']);
  });
});

describe('getOrder', () => {
  it('answers the owner’s order as stored, and the second read from the cache', async () => {
    const { userId, orders } = await customerWithOrders(1);
    const { loads, deps } = countedReader();
    const orderId = orders[0]!.id;

    const first = await getOrder(deps, { userId, orderId });
    const second = await getOrder(deps, { userId, orderId });

    const stored = toOrderView((await ground.readers.orders.findById(orderId))!);
    // The owner's answer carries each line's delivered keys (none yet); the cache never holds a key.
    const withKeys = { ...stored, items: stored.items.map((item) => ({ ...item, keys: [] })) };
    expect(first).toEqual(withKeys);
    expect(stored).toEqual(orders[0]);
    expect(second).toEqual(first);
    expect(loads.findById).toBe(1);
    expect(JSON.parse((await cachedOrder(orderId))!)).toEqual({ userId, order: stored });
  });

  it('shows the new status after a refund (the invalidation deletes the entry at once after commit)', async () => {
    const { userId, orders } = await customerWithOrders(1);
    const { loads, deps } = countedReader();
    const orderId = orders[0]!.id;
    expect((await getOrder(deps, { userId, orderId })).status).toBe('paid');

    await refundOrder({ uow: ground.uow, logger: ground.logger }, { orderId, all: false });
    expect(await cachedOrder(orderId)).toBeNull();
    const after = await getOrder(deps, { userId, orderId });

    expect(after).toMatchObject({ status: 'refunded', refundedCents: 1000 });
    expect(loads.findById).toBe(2);
  });

  it('ORDER_NOT_FOUND for another user’s order, cached or not', async () => {
    const { userId, orders } = await customerWithOrders(1);
    const stranger = await ground.newUser();
    const orderId = orders[0]!.id;
    const { deps } = countedReader();

    await expectDomainError(getOrder(deps, { userId: stranger, orderId }), 'ORDER_NOT_FOUND');
    await getOrder(deps, { userId, orderId });
    await expectDomainError(getOrder(deps, { userId: stranger, orderId }), 'ORDER_NOT_FOUND');
  });

  it('ORDER_NOT_FOUND for an unknown order, and nothing cached for it', async () => {
    const userId = await ground.newUser();
    const orderId = randomUUID();
    const { loads, deps } = countedReader();

    await expectDomainError(getOrder(deps, { userId, orderId }), 'ORDER_NOT_FOUND');
    await expectDomainError(getOrder(deps, { userId, orderId }), 'ORDER_NOT_FOUND');

    expect(await cachedOrder(orderId)).toBeNull();
    expect(loads.findById).toBe(2);
  });
});

describe('listTransactions', () => {
  it('answers the ledger newest first, with the balance after each entry, paginated', async () => {
    const userId = await ground.newUser();
    await fund(ground, userId, 5000);
    const gameId = await insertGame(ground.db, { priceCents: 1020 });
    const placed = await order(ground, { userId, items: [{ gameId, quantity: 2 }] });
    await fund(ground, userId, 300);
    await refundOrder({ uow: ground.uow, logger: ground.logger }, { orderId: placed.id, all: false });
    const deps = { ledger: ground.readers.ledger };

    const all = await listTransactions(deps, { userId, page: 1, pageSize: 10 });
    const second = await listTransactions(deps, { userId, page: 2, pageSize: 2 });

    expect(all.total).toBe(5);
    expect(
      all.items.map((item) => [item.type, item.amountCents, item.balanceAfterCents, item.orderId]),
    ).toEqual([
      ['refund', 1020, 5300, placed.id],
      ['refund', 1020, 4280, placed.id],
      ['top_up', 300, 3260, null],
      ['purchase', -2040, 2960, placed.id],
      ['top_up', 5000, 5000, null],
    ]);
    expect(all.items[2]).toMatchObject({ reference: expect.stringMatching(/^test-/) });
    expect(all.items[0]).toEqual({
      id: expect.any(String),
      type: 'refund',
      amountCents: 1020,
      balanceAfterCents: 5300,
      orderId: placed.id,
      reference: null,
      createdAt: expect.any(String),
    });
    expect(second).toEqual({ items: all.items.slice(2, 4), page: 2, pageSize: 2, total: 5 });
    expect((await listTransactions(deps, { userId, page: 3, pageSize: 2 })).items).toEqual(
      all.items.slice(4),
    );
  });

  it('answers only the user’s own entries', async () => {
    const userId = await ground.newUser();
    await fund(ground, await ground.newUser(), 700);

    expect(
      await listTransactions({ ledger: ground.readers.ledger }, { userId, page: 1, pageSize: 10 }),
    ).toEqual({
      items: [],
      page: 1,
      pageSize: 10,
      total: 0,
    });
  });
});

describe('purgeIdempotencyKeys', () => {
  it('removes the keys older than 24 h, and only those', async () => {
    const { userId, orders } = await customerWithOrders(1);
    const keyOf = async (orderId: string) =>
      (
        await sql<{ key: string }>`SELECT key FROM idempotency_keys
          WHERE user_id = ${userId} AND response_body LIKE ${`%${orderId}%`}`.execute(ground.db)
      ).rows[0]?.key;
    const oldKey = await keyOf(orders[0]!.id);
    expect(oldKey).toBeDefined();
    const dayMs = IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000;
    ground.clock.advance(dayMs - 60_000);
    const gameId = await insertGame(ground.db);
    const young = await order(ground, { userId, items: [{ gameId, quantity: 1 }] });
    const deps = { uow: ground.uow, clock: ground.clock, logger: ground.logger };

    expect(await purgeIdempotencyKeys(deps)).toBe(0);
    ground.clock.advance(60_000 + 1);
    const keys = await countRows(ground, 'idempotency_keys');
    const purged = await purgeIdempotencyKeys(deps);

    // Every key of this file was made at the start, except the young one.
    expect(purged).toBe(keys - 1);
    expect(await countRows(ground, 'idempotency_keys')).toBe(1);
    expect(await keyOf(orders[0]!.id)).toBeUndefined();
    expect(await keyOf(young.id)).toBeDefined();
    expect(await purgeIdempotencyKeys(deps)).toBe(0);
  });
});
