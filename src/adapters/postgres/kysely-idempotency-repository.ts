import { sql, type Transaction } from 'kysely';
import { IDEMPOTENCY_KEY_TTL_HOURS, type StoredKey } from '../../domain/idempotency.js';
import type { IdempotencyRepository } from '../../ports/orders.js';
import type { Database } from './schema.js';

const TTL_MS = IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000;

export class KyselyIdempotencyRepository implements IdempotencyRepository {
  constructor(private readonly db: Transaction<Database>) {}

  async acquire(
    userId: string,
    key: string,
    now: Date,
  ): Promise<{ held: false } | { held: true; stored: StoredKey | null }> {
    // One statement: the lock (released at commit or rollback, so a crash leaves nothing held) and the row.
    // The row is read from the statement's snapshot, taken before the lock: a request that stored it just
    // before is caught by `store`, which then finds the row there.
    const row = await sql<{
      held: boolean;
      request_hash: string | null;
      response_status: number | null;
      response_body: string | null;
    }>`
      SELECT pg_try_advisory_xact_lock(hashtextextended(${`idempotency:${userId}:${key}`}, 0)) AS held,
             k.request_hash, k.response_status, k.response_body
      FROM (SELECT 1) AS one
      LEFT JOIN idempotency_keys k
        ON k.user_id = ${userId} AND k.key = ${key} AND k.created_at >= ${new Date(now.getTime() - TTL_MS)}`.execute(
      this.db,
    );
    const found = row.rows[0]!;
    if (!found.held) return { held: false };
    if (found.request_hash === null) return { held: true, stored: null };
    return {
      held: true,
      stored: {
        requestHash: found.request_hash,
        response: { status: found.response_status!, body: found.response_body! },
      },
    };
  }

  async store(userId: string, key: string, stored: StoredKey, now: Date): Promise<boolean> {
    const row = await this.db
      .insertInto('idempotency_keys')
      .values({
        user_id: userId,
        key,
        request_hash: stored.requestHash,
        response_status: stored.response.status,
        response_body: stored.response.body,
        created_at: now,
      })
      .onConflict((oc) =>
        oc
          .columns(['user_id', 'key'])
          .doUpdateSet({
            request_hash: stored.requestHash,
            response_status: stored.response.status,
            response_body: stored.response.body,
            created_at: now,
          })
          // Only a key past its time to live is reused.
          .where('idempotency_keys.created_at', '<', new Date(now.getTime() - TTL_MS)),
      )
      .returning('key')
      .executeTakeFirst();
    return row !== undefined;
  }

  async purgeCreatedBefore(before: Date, limit: number): Promise<number> {
    const result = await sql`
      DELETE FROM idempotency_keys WHERE ctid IN (
        SELECT ctid FROM idempotency_keys WHERE created_at < ${before} LIMIT ${limit})`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }
}
