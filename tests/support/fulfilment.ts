import { createHmac } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../src/adapters/postgres/db.js';
import type { G2ASimulator } from '../../src/adapters/g2a/simulator.js';

/** `X-G2A-Timestamp` and `X-G2A-Signature` for `rawBody`, as G2A would sign it (SPEC §9 Webhook). */
export function webhookHeaders(
  secret: string,
  rawBody: string,
  timestampSeconds = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const timestamp = String(timestampSeconds);
  return {
    'content-type': 'application/json',
    'x-g2a-timestamp': timestamp,
    'x-g2a-signature': createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex'),
  };
}

/**
 * Ids of `count` products the simulator lists, made plentiful (qty 1000, buyable) so that checkout and G2A
 * both sell them; call before the catalogue sync so the shop's games carry that stock.
 */
export function stockedProducts(simulator: G2ASimulator, count: number): string[] {
  const ids: string[] = [];
  for (let page = 1; ids.length < count; page++) {
    const docs = simulator.state.listProducts({ page, includeOutOfStock: true }).docs;
    if (docs.length === 0) throw new Error(`the simulator lists fewer than ${count} products`);
    ids.push(...docs.map((product) => product.id));
  }
  const chosen = ids.slice(0, count);
  for (const id of chosen) simulator.state.updateProduct(id, { qty: 1000, availableToBuy: true });
  return chosen;
}

/** The shop's games for simulator products, in the order of `productIds`. */
export async function gamesFor(db: Db, productIds: string[]) {
  const rows = await db
    .selectFrom('games')
    .select(['id', 'g2a_product_id', 'cost_cents', 'price_cents'])
    .where('g2a_product_id', 'in', productIds)
    .execute();
  return productIds.map((productId) => {
    const game = rows.find((row) => row.g2a_product_id === productId);
    if (!game) throw new Error(`no game for simulator product ${productId}: was the catalogue synced?`);
    return game;
  });
}

export interface UnitRow {
  id: string;
  order_id: string;
  state: string;
  g2a_order_id: string | null;
  g2a_price_cents: number | null;
  create_started_at: Date | null;
  paid_at: Date | null;
  delivered_at: Date | null;
  lease_until: Date | null;
  flagged_at: Date | null;
  flag_reason: string | null;
  failure_reason: string | null;
  attempts: number;
  key_ciphertext: Buffer | null;
  g2a_product_id: string;
  unit_cost_cents: number;
}

/** The units of the given orders (all units when none are given), read with plain SQL. */
export async function unitRows(db: Db, orderIds?: string[]): Promise<UnitRow[]> {
  const where = orderIds ? sql`WHERE u.order_id = ANY(${orderIds}::uuid[])` : sql``;
  const result = await sql<UnitRow>`
    SELECT u.id, u.order_id, u.state, u.g2a_order_id, u.g2a_price_cents::int AS g2a_price_cents,
      u.create_started_at, u.paid_at, u.delivered_at, u.lease_until, u.flagged_at, u.flag_reason,
      u.failure_reason, u.attempts, u.key_ciphertext, l.g2a_product_id, l.unit_cost_cents::int AS unit_cost_cents
    FROM order_units u JOIN order_lines l ON l.id = u.line_id ${where}
    ORDER BY u.id`.execute(db);
  return result.rows;
}

/** True once no unit of the database is held by a worker's lease (a killed worker's leases ran out). */
export async function noLiveLease(db: Db): Promise<boolean> {
  const result = await sql<{ n: number }>`
    SELECT count(*)::int AS n FROM order_units WHERE lease_until IS NOT NULL AND lease_until >= now()`.execute(
    db,
  );
  return result.rows[0]!.n === 0;
}

/** Refund entries in the ledger (of the given user, or all). */
export async function refundEntries(db: Db, userId?: string): Promise<number> {
  let query = db
    .selectFrom('transactions')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('type', '=', 'refund');
  if (userId) query = query.where('user_id', '=', userId);
  return (await query.executeTakeFirstOrThrow()).n;
}

export interface G2ACallLog {
  /** `POST /v1/order` processed by the simulator (injected 5xx never reach it), with the max_price sent. */
  creates: { productId: string; maxPrice: number | undefined; orderId?: string; at: number }[];
  /** `PUT /v1/order/pay/{id}` processed by the simulator, by G2A order id. */
  pays: Map<string, number>;
  /** `GET /v1/order/details/{id}` processed, by G2A order id. */
  details: Map<string, number>;
}

/**
 * Records every create, pay and details call the simulator processes, by wrapping its state (the simulator
 * runs in the test process). Calls refused before processing (429, injected 5xx) are not recorded.
 */
export function recordG2ACalls(simulator: G2ASimulator): G2ACallLog {
  const log: G2ACallLog = { creates: [], pays: new Map(), details: new Map() };
  const state = simulator.state;
  const createOrder = state.createOrder.bind(state);
  const payOrder = state.payOrder.bind(state);
  const orderDetails = state.orderDetails.bind(state);
  state.createOrder = (input) => {
    const outcome = createOrder(input);
    log.creates.push({
      at: Date.now(),
      productId: input.productId,
      maxPrice: input.maxPrice,
      ...('ok' in outcome ? { orderId: outcome.ok.orderId } : {}),
    });
    return outcome;
  };
  state.payOrder = (orderId) => {
    log.pays.set(orderId, (log.pays.get(orderId) ?? 0) + 1);
    return payOrder(orderId);
  };
  state.orderDetails = (orderId) => {
    log.details.set(orderId, (log.details.get(orderId) ?? 0) + 1);
    return orderDetails(orderId);
  };
  return log;
}
