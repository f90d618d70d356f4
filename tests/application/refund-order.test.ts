import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getOrder } from '../../src/application/get-order.js';
import { listOrders } from '../../src/application/list-orders.js';
import { toOrderView } from '../../src/application/order-views.js';
import { refundOrder, type RefundOrderInput } from '../../src/application/refund-order.js';
import { cacheKeys } from '../../src/domain/cache-keys.js';
import type { Order, OrderStatus, OrderUnitState } from '../../src/domain/order.js';
import { expectDomainError } from '../support/errors.js';
import { insertGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';
import { balanceOf, fund, ledgerOf, order } from '../support/wallet.js';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

const refund = (input: RefundOrderInput) => refundOrder({ uow: ground.uow, logger: ground.logger }, input);
const stored = async (orderId: string) => (await ground.readers.orders.findById(orderId))!;

/**
 * A fresh user who bought 2 × Alpha (1530) and 2 × Beta (1020) with 10,000 in the wallet (5,100 left): the
 * order as stored, its units by line.
 */
async function boughtOrder() {
  const userId = await ground.newUser();
  await fund(ground, userId, 10_000);
  const alpha = await insertGame(ground.db, { name: 'Alpha', priceCents: 1530 });
  const beta = await insertGame(ground.db, { name: 'Beta', priceCents: 1020 });
  const view = await order(ground, {
    userId,
    items: [
      { gameId: alpha, quantity: 2 },
      { gameId: beta, quantity: 2 },
    ],
  });
  const placed = await stored(view.id);
  const unitsOf = (gameId: string) => {
    const line = placed.lines.find((candidate) => candidate.gameId === gameId)!;
    return placed.units.filter((unit) => unit.lineId === line.id).map((unit) => unit.id);
  };
  return { userId, order: placed, alphaUnits: unitsOf(alpha), betaUnits: unitsOf(beta) };
}

/**
 * Moves units straight in SQL as fulfilment would, with the facts the schema asks of the state when it has the
 * fulfilment columns (a G2A order, a payment, a sealed key).
 */
async function setUnits(unitIds: string[], state: OrderUnitState) {
  const columns = await sql<{ name: string }>`SELECT column_name AS name FROM information_schema.columns
    WHERE table_name = 'order_units' AND column_name = 'key_ciphertext'`.execute(ground.db);
  if (columns.rows.length === 0) {
    await sql`UPDATE order_units SET state = ${state} WHERE id = ANY(${unitIds}::uuid[])`.execute(ground.db);
    return;
  }
  const reached = ['ordered', 'paid', 'delivered'].includes(state);
  const delivered = state === 'delivered';
  await sql`UPDATE order_units SET state = ${state},
      g2a_order_id = CASE WHEN ${reached}::boolean THEN 'test-' || id::text ELSE g2a_order_id END,
      paid_at = CASE WHEN ${state !== 'ordered' && reached}::boolean THEN now() ELSE paid_at END,
      key_ciphertext = CASE WHEN ${delivered}::boolean THEN '\\x00'::bytea ELSE key_ciphertext END,
      key_iv = CASE WHEN ${delivered}::boolean THEN '\\x01'::bytea ELSE key_iv END,
      key_auth_tag = CASE WHEN ${delivered}::boolean THEN '\\x02'::bytea ELSE key_auth_tag END,
      key_key_id = CASE WHEN ${delivered}::boolean THEN 'test' ELSE key_key_id END,
      delivered_at = CASE WHEN ${delivered}::boolean THEN now() ELSE delivered_at END
    WHERE id = ANY(${unitIds}::uuid[])`.execute(ground.db);
}
async function setStatus(orderId: string, status: OrderStatus) {
  await sql`UPDATE orders SET status = ${status} WHERE id = ${orderId}`.execute(ground.db);
}

const refundsOf = async (userId: string) =>
  (await ledgerOf(ground, userId))
    .filter((entry) => entry.type === 'refund')
    .map((entry) => ({
      orderId: entry.order_id,
      unitId: entry.order_unit_id,
      amount: entry.amount_cents,
      after: entry.balance_after_cents,
    }));

const unitStates = (placed: Order) => Object.fromEntries(placed.units.map((unit) => [unit.id, unit.state]));

describe('refundOrder', () => {
  it('{all: false} refunds every undelivered unit at its price, one entry each: partially_refunded', async () => {
    const { userId, order: placed, alphaUnits, betaUnits } = await boughtOrder();
    await setUnits([alphaUnits[0]!, betaUnits[0]!], 'delivered');
    await setUnits([betaUnits[1]!], 'failed');
    await setStatus(placed.id, 'processing');

    const answer = await refund({ orderId: placed.id, all: false, actorId: randomUUID() });

    expect(answer).toMatchObject({
      id: placed.id,
      userId,
      status: 'partially_refunded',
      totalCents: 5100,
      refundedCents: 2550,
      items: [
        { quantity: 2, unitPriceCents: 1530, delivered: 1, refunded: 1 },
        { quantity: 2, unitPriceCents: 1020, delivered: 1, refunded: 1 },
      ],
    });
    expect(await refundsOf(userId)).toEqual([
      { orderId: placed.id, unitId: alphaUnits[1], amount: 1530, after: 4900 + 1530 },
      { orderId: placed.id, unitId: betaUnits[1], amount: 1020, after: 4900 + 2550 },
    ]);
    expect(await balanceOf(ground, userId)).toBe(4900 + 2550);
    const after = await stored(placed.id);
    expect(after.status).toBe('partially_refunded');
    expect(unitStates(after)).toEqual({
      [alphaUnits[0]!]: 'delivered',
      [alphaUnits[1]!]: 'refunded',
      [betaUnits[0]!]: 'delivered',
      [betaUnits[1]!]: 'refunded',
    });
  });

  it('{all: false} with nothing delivered refunds the whole order: refunded', async () => {
    const { userId, order: placed } = await boughtOrder();

    const answer = await refund({ orderId: placed.id, all: false });

    expect(answer).toMatchObject({ status: 'refunded', refundedCents: 5100 });
    expect(await refundsOf(userId)).toHaveLength(4);
    expect(await balanceOf(ground, userId)).toBe(10_000);
    expect((await stored(placed.id)).status).toBe('refunded');
  });

  it('{all: false} with every unit delivered refunds nothing and leaves the order completed', async () => {
    const { userId, order: placed, alphaUnits, betaUnits } = await boughtOrder();
    await setUnits([...alphaUnits, ...betaUnits], 'delivered');
    await setStatus(placed.id, 'completed');
    await ground.clearOutbox();

    const answer = await refund({ orderId: placed.id, all: false });

    expect(answer).toMatchObject({ status: 'completed', refundedCents: 0 });
    expect(await refundsOf(userId)).toEqual([]);
    expect(await balanceOf(ground, userId)).toBe(4900);
    expect(await ground.outbox('cache.invalidate')).toEqual([]);
  });

  it('{all: true} refunds every unit, delivered ones too: refunded', async () => {
    const { userId, order: placed, alphaUnits, betaUnits } = await boughtOrder();
    await setUnits([alphaUnits[0]!, betaUnits[0]!], 'delivered');
    await setStatus(placed.id, 'processing');

    const answer = await refund({ orderId: placed.id, all: true });

    expect(answer).toMatchObject({
      status: 'refunded',
      refundedCents: 5100,
      items: [
        { delivered: 0, refunded: 2 },
        { delivered: 0, refunded: 2 },
      ],
    });
    expect((await refundsOf(userId)).map((entry) => entry.amount).sort()).toEqual([1020, 1020, 1530, 1530]);
    expect(await balanceOf(ground, userId)).toBe(10_000);
  });

  it('{all: true} after a partial refund refunds the delivered rest: partially_refunded → refunded', async () => {
    const { userId, order: placed, alphaUnits } = await boughtOrder();
    await setUnits(alphaUnits, 'delivered');
    await refund({ orderId: placed.id, all: false });
    expect((await stored(placed.id)).status).toBe('partially_refunded');

    const answer = await refund({ orderId: placed.id, all: true });

    expect(answer).toMatchObject({ status: 'refunded', refundedCents: 5100 });
    expect(await refundsOf(userId)).toHaveLength(4);
    expect(new Set((await refundsOf(userId)).map((entry) => entry.unitId)).size).toBe(4);
    expect(await balanceOf(ground, userId)).toBe(10_000);
  });

  it('a second refund changes nothing and answers the order as stored', async () => {
    const { userId, order: placed } = await boughtOrder();
    await refund({ orderId: placed.id, all: false });
    const ledger = await ledgerOf(ground, userId);
    await ground.clearOutbox();

    const again = await refund({ orderId: placed.id, all: false });
    const all = await refund({ orderId: placed.id, all: true });

    const view = { ...toOrderView(await stored(placed.id)), userId };
    expect(again).toEqual(view);
    expect(all).toEqual(view);
    expect(again.status).toBe('refunded');
    expect(await ledgerOf(ground, userId)).toEqual(ledger);
    expect(await ground.outbox('cache.invalidate')).toEqual([]);
  });

  it('the answer of a refund equals the order as stored afterwards (updatedAt included)', async () => {
    const { userId, order: placed } = await boughtOrder();

    const answer = await refund({ orderId: placed.id, all: false });

    expect(answer).toEqual({ ...toOrderView(await stored(placed.id)), userId });
  });

  it('refunds each unit once when two refunds race', async () => {
    const { userId, order: placed } = await boughtOrder();

    await Promise.all([
      refund({ orderId: placed.id, all: true }),
      refund({ orderId: placed.id, all: false }),
    ]);

    expect(await refundsOf(userId)).toHaveLength(4);
    expect(await balanceOf(ground, userId)).toBe(10_000);
  });

  it('ORDER_NOT_FOUND for an unknown order', async () => {
    await expectDomainError(refund({ orderId: randomUUID(), all: false }), 'ORDER_NOT_FOUND');
  });

  it('invalidates order:{id} and user:{id}:orders, and deletes both at once after commit', async () => {
    const { userId, order: placed } = await boughtOrder();
    const readers = {
      orders: ground.readers.orders,
      cache: ground.cache,
      fulfilment: ground.readers.fulfilment,
      vault: ground.vault,
    };
    await getOrder(readers, { userId, orderId: placed.id });
    await listOrders(readers, { userId, page: 1, pageSize: 10 });
    expect(await ground.redis!.hget(cacheKeys.order(placed.id), 'd')).not.toBeNull();
    expect(await ground.redis!.hget(cacheKeys.userOrders(userId), 'd')).not.toBeNull();
    await ground.clearOutbox();

    await refund({ orderId: placed.id, all: false });

    expect(await ground.outbox('cache.invalidate')).toEqual([
      { keys: [cacheKeys.order(placed.id), cacheKeys.userOrders(userId)] },
    ]);
    expect(await ground.redis!.hget(cacheKeys.order(placed.id), 'd')).toBeNull();
    expect(await ground.redis!.hget(cacheKeys.userOrders(userId), 'd')).toBeNull();
    expect((await getOrder(readers, { userId, orderId: placed.id })).status).toBe('refunded');
  });
});

describe('order status moves never go backwards', () => {
  const move = (orderId: string, to: OrderStatus) =>
    ground.uow.run((scope) => scope.orders.moveStatus(orderId, to));

  it('a refunded order moves to nothing else', async () => {
    const { order: placed } = await boughtOrder();
    await refund({ orderId: placed.id, all: false });

    for (const to of ['paid', 'processing', 'completed', 'partially_refunded'] as const) {
      expect(await move(placed.id, to)).toBe(false);
    }

    expect((await stored(placed.id)).status).toBe('refunded');
  });

  it('a completed order goes back neither to processing nor to paid', async () => {
    const { order: placed } = await boughtOrder();
    expect(await move(placed.id, 'processing')).toBe(true);
    expect(await move(placed.id, 'completed')).toBe(true);

    expect(await move(placed.id, 'processing')).toBe(false);
    expect(await move(placed.id, 'paid')).toBe(false);
    expect((await stored(placed.id)).status).toBe('completed');
  });

  it('a partially refunded order is not completed, processing or paid again', async () => {
    const { order: placed, alphaUnits } = await boughtOrder();
    await setUnits(alphaUnits, 'delivered');
    await refund({ orderId: placed.id, all: false });

    for (const to of ['paid', 'processing', 'completed'] as const) {
      expect(await move(placed.id, to)).toBe(false);
    }
    expect((await stored(placed.id)).status).toBe('partially_refunded');
  });

  it('processing does not go back to paid; a paid order is never moved to paid', async () => {
    const { order: placed } = await boughtOrder();
    expect(await move(placed.id, 'paid')).toBe(false);
    expect(await move(placed.id, 'processing')).toBe(true);

    expect(await move(placed.id, 'processing')).toBe(false);
    expect(await move(placed.id, 'paid')).toBe(false);
    expect((await stored(placed.id)).status).toBe('processing');
  });
});
