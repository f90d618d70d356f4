import { sql } from 'kysely';
import type { Db } from '../../src/adapters/postgres/db.js';
import { orderStatusFor, type OrderStatus, type OrderUnitState } from '../../src/domain/order.js';

/**
 * Every money invariant of SPEC §2 that the database holds, read back with plain SQL (not through the
 * shop's repositories): answers one line per violation, so `expect(await ledgerViolations(db)).toEqual([])`
 * names what broke.
 *
 * - per user: balance = Σ amounts = the last `balance_after_cents`, balance ≥ 0, the chain numbered 1, 2, 3 …
 *   with every `balance_after_cents` the running sum and never below 0;
 * - per order: exactly one purchase entry, of the order's user, charging its total; the total equal to its
 *   lines; one unit per key bought; a status that its units add up to;
 * - every purchase entry has its order; every refunded unit exactly one refund entry of its line's price, and
 *   no refund entry for a unit that is not refunded.
 */
export async function ledgerViolations(db: Db): Promise<string[]> {
  const violations: string[] = [];

  const wallets = await sql<{
    id: string;
    balance: number;
    total: number;
    last: number | null;
    entries: number;
  }>`
    SELECT u.id, u.balance_cents AS balance,
      COALESCE((SELECT sum(t.amount_cents) FROM transactions t WHERE t.user_id = u.id), 0)::bigint AS total,
      (SELECT t.balance_after_cents FROM transactions t WHERE t.user_id = u.id ORDER BY t.seq DESC LIMIT 1) AS last,
      (SELECT count(*) FROM transactions t WHERE t.user_id = u.id)::int AS entries
    FROM users u`.execute(db);
  for (const w of wallets.rows) {
    if (w.balance < 0) violations.push(`user ${w.id}: balance ${w.balance} < 0`);
    if (w.balance !== w.total) violations.push(`user ${w.id}: balance ${w.balance} but Σ amounts ${w.total}`);
    if (w.balance !== (w.last ?? 0)) {
      violations.push(`user ${w.id}: balance ${w.balance} but last balance_after ${w.last ?? 'none'}`);
    }
  }

  const chain = await sql<{ user_id: string; seq: number; rn: number; after: number; running: number }>`
    SELECT user_id, seq, balance_after_cents AS after,
      row_number() OVER w::int AS rn, sum(amount_cents) OVER w::bigint AS running
    FROM transactions WINDOW w AS (PARTITION BY user_id ORDER BY seq)`.execute(db);
  for (const row of chain.rows) {
    if (row.seq !== row.rn) violations.push(`user ${row.user_id}: entry #${row.rn} numbered ${row.seq}`);
    if (row.after !== row.running || row.after < 0) {
      violations.push(
        `user ${row.user_id}: entry ${row.seq} balance_after ${row.after}, running sum ${row.running}`,
      );
    }
  }

  const orders = await sql<{
    id: string;
    user_id: string;
    status: OrderStatus;
    total: number;
    purchases: number;
    charged: number | null;
    purchase_user: string | null;
    lines_total: number;
    quantities: number;
    units: number;
    states: OrderUnitState[];
  }>`
    SELECT o.id, o.user_id, o.status, o.total_cents AS total,
      (SELECT count(*) FROM transactions t WHERE t.order_id = o.id AND t.type = 'purchase')::int AS purchases,
      (SELECT -sum(t.amount_cents) FROM transactions t WHERE t.order_id = o.id AND t.type = 'purchase')::bigint AS charged,
      (SELECT min(t.user_id::text) FROM transactions t WHERE t.order_id = o.id AND t.type = 'purchase') AS purchase_user,
      COALESCE((SELECT sum(l.quantity * l.unit_price_cents) FROM order_lines l WHERE l.order_id = o.id), 0)::bigint AS lines_total,
      COALESCE((SELECT sum(l.quantity) FROM order_lines l WHERE l.order_id = o.id), 0)::int AS quantities,
      (SELECT count(*) FROM order_units un WHERE un.order_id = o.id)::int AS units,
      COALESCE((SELECT array_agg(un.state) FROM order_units un WHERE un.order_id = o.id), '{}') AS states
    FROM orders o`.execute(db);
  for (const o of orders.rows) {
    if (o.purchases !== 1) violations.push(`order ${o.id}: ${o.purchases} purchase entries`);
    if (o.charged !== o.total) violations.push(`order ${o.id}: totals ${o.total}, charged ${o.charged}`);
    if (o.purchase_user !== null && o.purchase_user !== o.user_id) {
      violations.push(`order ${o.id} of ${o.user_id}: charged to ${o.purchase_user}`);
    }
    if (o.lines_total !== o.total)
      violations.push(`order ${o.id}: totals ${o.total}, lines ${o.lines_total}`);
    if (o.units !== o.quantities)
      violations.push(`order ${o.id}: ${o.quantities} keys bought, ${o.units} units`);
    const expected = orderStatusFor(o.states);
    if (o.status !== expected)
      violations.push(`order ${o.id}: status ${o.status}, its units say ${expected}`);
  }

  const orphans = await sql<{ id: string }>`
    SELECT t.id FROM transactions t LEFT JOIN orders o ON o.id = t.order_id
    WHERE t.type = 'purchase' AND o.id IS NULL`.execute(db);
  for (const row of orphans.rows) violations.push(`purchase entry ${row.id} without its order`);

  const refunds = await sql<{ unit: string; state: string; entries: number; wrong: number }>`
    SELECT un.id AS unit, un.state,
      (SELECT count(*) FROM transactions t WHERE t.order_unit_id = un.id AND t.type = 'refund')::int AS entries,
      (SELECT count(*) FROM transactions t
         JOIN orders o ON o.id = un.order_id
        WHERE t.order_unit_id = un.id AND t.type = 'refund'
          AND (t.order_id <> un.order_id OR t.user_id <> o.user_id OR t.amount_cents <> l.unit_price_cents))::int AS wrong
    FROM order_units un JOIN order_lines l ON l.id = un.line_id`.execute(db);
  for (const r of refunds.rows) {
    const wanted = r.state === 'refunded' ? 1 : 0;
    if (r.entries !== wanted) violations.push(`unit ${r.unit} (${r.state}): ${r.entries} refund entries`);
    if (r.wrong > 0) violations.push(`unit ${r.unit}: refund entry of another order, user or amount`);
  }
  return violations;
}

/** The user's wallet as PostgreSQL holds it. */
export async function balanceOf(db: Db, userId: string): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select('balance_cents')
    .where('id', '=', userId)
    .executeTakeFirstOrThrow();
  return row.balance_cents;
}
