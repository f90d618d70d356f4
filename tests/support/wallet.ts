import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { placeOrder, type PlaceOrderInput } from '../../src/application/place-order.js';
import type { OrderView } from '../../src/application/order-views.js';
import { topUpWallet } from '../../src/application/top-up-wallet.js';
import type { OrderItemRequest } from '../../src/domain/order.js';
import type { Ground } from './ground.js';

/** Credits a wallet through the top-up use case (a fresh reference); answers the balance after. */
export async function fund(ground: Ground, userId: string, amountCents: number): Promise<number> {
  const { entry } = await topUpWallet(
    { uow: ground.uow, logger: ground.logger },
    { userId, amountCents, reference: `test-${randomUUID()}` },
  );
  return entry.balanceAfterCents;
}

/** Places an order through the use case with a fresh key (unless given); answers the parsed order view. */
export async function order(
  ground: Ground,
  input: Omit<PlaceOrderInput, 'idempotencyKey'> & { idempotencyKey?: string },
): Promise<OrderView> {
  const placed = await placeOrder(
    { uow: ground.uow, clock: ground.clock, logger: ground.logger },
    { idempotencyKey: randomUUID(), ...input },
  );
  return JSON.parse(placed.body) as OrderView;
}

/**
 * The request hash `placeOrder` stores for a body, rebuilt here so that a test can claim a key for "the same
 * body" itself. The tests that use it also prove it equal to what the use case stores.
 */
export function requestHashOf(items?: OrderItemRequest[]): string {
  const canonical = items ? items.map((item) => [item.gameId.toLowerCase(), item.quantity]) : 'cart';
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

export async function balanceOf(ground: Pick<Ground, 'db'>, userId: string): Promise<number> {
  const row = await ground.db
    .selectFrom('users')
    .select('balance_cents')
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  return row.balance_cents;
}

/** The user's ledger, oldest first, as stored. */
export async function ledgerOf(ground: Pick<Ground, 'db'>, userId: string) {
  return ground.db
    .selectFrom('transactions')
    .selectAll()
    .where('user_id', '=', userId)
    .orderBy('seq')
    .execute();
}

/**
 * Everything a checkout could touch for a user, read back from Postgres: balance, ledger, cart, orders with
 * their lines and units, idempotency keys, and every outbox message of the ground.
 */
export async function snapshot(ground: Ground, userId: string) {
  const units = await sql<{ n: number }>`SELECT count(*)::int AS n FROM order_units u
    JOIN orders o ON o.id = u.order_id WHERE o.user_id = ${userId}`.execute(ground.db);
  return {
    balance: await balanceOf(ground, userId),
    ledger: await ledgerOf(ground, userId),
    cart: await ground.readers.carts.lines({ kind: 'user', userId }),
    orders: await ground.readers.orders.listByUser(userId),
    units: units.rows[0]!.n,
    keys: await ground.db.selectFrom('idempotency_keys').selectAll().where('user_id', '=', userId).execute(),
    outbox: [...(await ground.outbox('cache.invalidate')), ...(await ground.outbox('email.send'))],
  };
}
