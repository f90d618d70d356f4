import { withPgClient } from './with-pg-client.js';

export interface LedgerAudit {
  users: number;
  /** Users whose balance is not the sum of their ledger amounts, or below zero. */
  mismatchedUsers: number;
  negativeBalances: number;
  orders: number;
  /** Orders without exactly one purchase entry of their total, and purchase entries without an order. */
  ordersWithoutTheirDebit: number;
}

/** Reads back what a benchmark did to the wallets: every balance against its ledger, every order against its debit. */
export async function auditLedger(databaseUrl: string): Promise<LedgerAudit> {
  return withPgClient(databaseUrl, async (client) => {
    const users = await client.query<{ users: number; mismatched: number; negative: number }>(`
      SELECT count(*)::int AS users,
             count(*) FILTER (WHERE u.balance_cents <> COALESCE(t.total, 0))::int AS mismatched,
             count(*) FILTER (WHERE u.balance_cents < 0)::int AS negative
      FROM users u LEFT JOIN (SELECT user_id, sum(amount_cents) AS total FROM transactions GROUP BY user_id) t
        ON t.user_id = u.id`);
    const orders = await client.query<{ orders: number; unpaid: number }>(`
      SELECT count(*)::int AS orders,
             count(*) FILTER (WHERE p.n IS DISTINCT FROM 1 OR -p.amount <> o.total_cents)::int AS unpaid
      FROM orders o LEFT JOIN (
        SELECT order_id, count(*) AS n, sum(amount_cents) AS amount FROM transactions
        WHERE type = 'purchase' GROUP BY order_id) p ON p.order_id = o.id`);
    const orphans = await client.query<{ n: number }>(`
      SELECT count(*)::int AS n FROM transactions t
      WHERE t.type = 'purchase' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = t.order_id)`);
    return {
      users: users.rows[0]!.users,
      mismatchedUsers: users.rows[0]!.mismatched,
      negativeBalances: users.rows[0]!.negative,
      orders: orders.rows[0]!.orders,
      ordersWithoutTheirDebit: orders.rows[0]!.unpaid + orphans.rows[0]!.n,
    };
  });
}
