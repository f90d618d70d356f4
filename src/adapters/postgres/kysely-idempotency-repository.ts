import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import {
  IDEMPOTENCY_KEY_TTL_HOURS,
  type IdempotencyClaim,
  type StoredResponse,
} from '../../domain/idempotency.js';
import type { IdempotencyRepository } from '../../ports/orders.js';
import type { Database } from './schema.js';

const TTL_MS = IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000;
/** PostgreSQL's `lock_not_available`: the lock timeout passed. */
const LOCK_NOT_AVAILABLE = '55P03';

export class KyselyIdempotencyRepository implements IdempotencyRepository {
  constructor(private readonly db: Transaction<Database>) {}

  async claim(input: {
    userId: string;
    key: string;
    requestHash: string;
    leaseMs: number;
    now: Date;
  }): Promise<IdempotencyClaim> {
    const claimId = randomUUID();
    const expiredBefore = new Date(input.now.getTime() - TTL_MS);
    // Read without locking first: a key held by a running checkout (which locks its row) answers at once.
    const held = await this.find(input.userId, input.key);
    if (held) {
      const expired = held.created_at < expiredBefore;
      const abandoned =
        held.status === 'in_flight' && held.locked_until !== null && held.locked_until < input.now;
      if (!expired && !(abandoned && held.request_hash === input.requestHash))
        return this.answer(held, input.requestHash);
    }
    // Taking over a key whose holder may still hold its row lock: give up rather than wait for it.
    await sql`SET LOCAL lock_timeout = '500ms'`.execute(this.db);
    let claimed;
    try {
      claimed = await sql<{ claim_id: string }>`
      INSERT INTO idempotency_keys (user_id, key, request_hash, status, claim_id, locked_until, created_at)
      VALUES (${input.userId}, ${input.key}, ${input.requestHash}, 'in_flight', ${claimId},
              ${new Date(input.now.getTime() + input.leaseMs)}, ${input.now})
      ON CONFLICT (user_id, key) DO UPDATE SET
        request_hash = EXCLUDED.request_hash, status = 'in_flight', claim_id = EXCLUDED.claim_id,
        locked_until = EXCLUDED.locked_until, created_at = EXCLUDED.created_at,
        response_status = NULL, response_body = NULL
      WHERE idempotency_keys.created_at < ${expiredBefore}
         OR (idempotency_keys.status = 'in_flight' AND idempotency_keys.locked_until < ${input.now}
             AND idempotency_keys.request_hash = EXCLUDED.request_hash)
      RETURNING claim_id`.execute(this.db);
    } catch (error) {
      if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) return { outcome: 'in_use' };
      throw error;
    }
    if (claimed.rows[0]) return { outcome: 'claimed', claimId: claimed.rows[0].claim_id };
    return this.answer((await this.find(input.userId, input.key))!, input.requestHash);
  }

  private find(userId: string, key: string) {
    return this.db
      .selectFrom('idempotency_keys')
      .select(['request_hash', 'status', 'response_status', 'response_body', 'created_at', 'locked_until'])
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .executeTakeFirst();
  }

  private answer(
    held: {
      request_hash: string;
      status: 'in_flight' | 'done';
      response_status: number | null;
      response_body: string | null;
    },
    requestHash: string,
  ): IdempotencyClaim {
    if (held.request_hash !== requestHash) return { outcome: 'reused' };
    if (held.status === 'done') {
      return { outcome: 'replay', response: { status: held.response_status!, body: held.response_body! } };
    }
    return { outcome: 'in_use' };
  }

  async lockClaim(userId: string, key: string, claimId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('idempotency_keys')
      .select('claim_id')
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .where('claim_id', '=', claimId)
      .where('status', '=', 'in_flight')
      .forUpdate()
      .executeTakeFirst();
    return row !== undefined;
  }

  async complete(userId: string, key: string, claimId: string, response: StoredResponse): Promise<void> {
    const result = await this.db
      .updateTable('idempotency_keys')
      .set({
        status: 'done',
        response_status: response.status,
        response_body: response.body,
        locked_until: null,
      })
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .where('claim_id', '=', claimId)
      .where('status', '=', 'in_flight')
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) throw new Error(`idempotency key ${key} is no longer claimed`);
  }

  async release(userId: string, key: string, claimId: string): Promise<void> {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('user_id', '=', userId)
      .where('key', '=', key)
      .where('claim_id', '=', claimId)
      .where('status', '=', 'in_flight')
      .execute();
  }

  async purgeCreatedBefore(before: Date, limit: number): Promise<number> {
    const result = await sql`
      DELETE FROM idempotency_keys WHERE ctid IN (
        SELECT ctid FROM idempotency_keys WHERE created_at < ${before} LIMIT ${limit})`.execute(this.db);
    return Number(result.numAffectedRows ?? 0);
  }
}
