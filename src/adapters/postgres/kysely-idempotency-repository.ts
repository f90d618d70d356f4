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
/** PostgreSQL's `foreign_key_violation`: here, no such user. */
const FOREIGN_KEY_VIOLATION = '23503';

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
    const lockedUntil = new Date(input.now.getTime() + input.leaseMs);
    // A new key (the common case) in one statement; DO NOTHING never waits on a running checkout's row lock.
    let fresh;
    try {
      fresh = await sql<{ claim_id: string }>`
        INSERT INTO idempotency_keys (user_id, key, request_hash, status, claim_id, locked_until, created_at)
        VALUES (${input.userId}, ${input.key}, ${input.requestHash}, 'in_flight', ${claimId}, ${lockedUntil}, ${input.now})
        ON CONFLICT (user_id, key) DO NOTHING
        RETURNING claim_id`.execute(this.db);
    } catch (error) {
      if ((error as { code?: string }).code === FOREIGN_KEY_VIOLATION) return { outcome: 'unknown_owner' };
      throw error;
    }
    if (fresh.rows[0]) return { outcome: 'claimed', claimId };

    const held = (await this.find(input.userId, input.key))!;
    const expired = held.created_at < new Date(input.now.getTime() - TTL_MS);
    const abandoned =
      held.status === 'in_flight' && held.locked_until !== null && held.locked_until < input.now;
    if (!expired && !(abandoned && held.request_hash === input.requestHash)) {
      return this.answer(held, input.requestHash);
    }
    // Taking over an expired key, or one whose holder stopped: give up rather than wait on a holder that may
    // still hold its row lock.
    await sql`SET LOCAL lock_timeout = '500ms'`.execute(this.db);
    let taken;
    try {
      taken = await this.db
        .updateTable('idempotency_keys')
        .set({
          request_hash: input.requestHash,
          status: 'in_flight',
          claim_id: claimId,
          locked_until: lockedUntil,
          created_at: input.now,
          response_status: null,
          response_body: null,
        })
        .where('user_id', '=', input.userId)
        .where('key', '=', input.key)
        .where('claim_id', '=', held.claim_id)
        .returning('claim_id')
        .executeTakeFirst();
    } catch (error) {
      if ((error as { code?: string }).code === LOCK_NOT_AVAILABLE) return { outcome: 'in_use' };
      throw error;
    }
    return taken
      ? { outcome: 'claimed', claimId }
      : this.answer((await this.find(input.userId, input.key))!, input.requestHash);
  }

  private find(userId: string, key: string) {
    return this.db
      .selectFrom('idempotency_keys')
      .select([
        'request_hash',
        'status',
        'claim_id',
        'response_status',
        'response_body',
        'created_at',
        'locked_until',
      ])
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

  async complete(userId: string, key: string, claimId: string, response: StoredResponse): Promise<boolean> {
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
    return Number(result.numUpdatedRows) === 1;
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
