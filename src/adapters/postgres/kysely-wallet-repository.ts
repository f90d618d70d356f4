import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Page } from '../../domain/game.js';
import type { LedgerEntry } from '../../domain/ledger.js';
import type { LedgerReader, NewLedgerEntry, WalletRepository } from '../../ports/orders.js';
import type { Database, TransactionsTable } from './schema.js';

function toLedgerEntry(row: Selectable<TransactionsTable>): LedgerEntry {
  return {
    id: row.id,
    userId: row.user_id,
    type: row.type,
    amountCents: row.amount_cents,
    balanceAfterCents: row.balance_after_cents,
    orderId: row.order_id,
    orderUnitId: row.order_unit_id,
    reference: row.reference,
    createdAt: row.created_at,
  };
}

export class KyselyLedgerReader implements LedgerReader {
  constructor(private readonly db: Kysely<Database>) {}

  async entries(userId: string, page: { page: number; pageSize: number }): Promise<Page<LedgerEntry>> {
    const [rows, count] = await Promise.all([
      this.db
        .selectFrom('transactions')
        .selectAll()
        .where('user_id', '=', userId)
        .orderBy('seq', 'desc')
        .limit(page.pageSize)
        .offset((page.page - 1) * page.pageSize)
        .execute(),
      this.db
        .selectFrom('transactions')
        .select(sql<number>`count(*)::int`.as('n'))
        .where('user_id', '=', userId)
        .executeTakeFirstOrThrow(),
    ]);
    return { items: rows.map(toLedgerEntry), page: page.page, pageSize: page.pageSize, total: count.n };
  }
}

export class KyselyWalletRepository implements WalletRepository {
  constructor(private readonly db: Transaction<Database>) {}

  async lockWallet(userId: string): Promise<number | null> {
    // NO KEY UPDATE: it excludes other balance changes, merges and cart changes of the user (which share the
    // row), yet not the key-share locks of foreign keys that point at the user.
    const row = await this.db
      .selectFrom('users')
      .select('balance_cents')
      .where('id', '=', userId)
      .forNoKeyUpdate()
      .executeTakeFirst();
    return row ? row.balance_cents : null;
  }

  async record(userId: string, entries: NewLedgerEntry[]): Promise<LedgerEntry[]> {
    if (entries.length === 0) return [];
    const values = entries.map((entry) => ({
      type: entry.type,
      amount_cents: entry.amountCents,
      order_id: entry.type === 'top_up' ? null : entry.orderId,
      order_unit_id: entry.type === 'refund' ? entry.orderUnitId : null,
      reference: entry.type === 'top_up' ? entry.reference : null,
    }));
    const change = entries.reduce((sum, entry) => sum + entry.amountCents, 0);
    // One statement: the entries, numbered and given their balance after by the chain trigger row by row in
    // this order, and the wallet changed by their sum (checked against the ledger at commit).
    const rows = await sql<Selectable<TransactionsTable>>`
      WITH entries AS (
        INSERT INTO transactions (user_id, type, amount_cents, order_id, order_unit_id, reference)
        SELECT ${userId}, e.type, e.amount_cents, e.order_id, e.order_unit_id, e.reference
        FROM ROWS FROM (json_to_recordset(${JSON.stringify(values)}::json)
          AS (type text, amount_cents bigint, order_id uuid, order_unit_id uuid, reference text))
          WITH ORDINALITY AS e(type, amount_cents, order_id, order_unit_id, reference, n)
        ORDER BY e.n
        RETURNING *
      ), wallet AS (
        UPDATE users SET balance_cents = balance_cents + ${change} WHERE id = ${userId} RETURNING id
      )
      SELECT entries.* FROM entries, wallet ORDER BY entries.seq`.execute(this.db);
    return rows.rows.map(toLedgerEntry);
  }

  async lockTopUpReference(reference: string): Promise<void> {
    await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`top-up:${reference}`}, 0))`.execute(this.db);
  }

  async findTopUp(reference: string): Promise<LedgerEntry | null> {
    const row = await this.db
      .selectFrom('transactions')
      .selectAll()
      .where('type', '=', 'top_up')
      .where('reference', '=', reference)
      .executeTakeFirst();
    return row ? toLedgerEntry(row) : null;
  }
}
