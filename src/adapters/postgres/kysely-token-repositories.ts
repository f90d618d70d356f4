import type { Kysely, Selectable, Transaction } from 'kysely';
import type {
  EmailVerificationRepository,
  GuestSessionRepository,
  RefreshTokenRepository,
  StoredRefreshToken,
} from '../../ports/tokens.js';
import type { Database, RefreshTokensTable } from './schema.js';

function toRefreshToken(row: Selectable<RefreshTokensTable>): StoredRefreshToken {
  return {
    id: row.id,
    userId: row.user_id,
    familyId: row.family_id,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    revokedAt: row.revoked_at,
  };
}

export class KyselyRefreshTokenRepository implements RefreshTokenRepository {
  constructor(private readonly db: Transaction<Database>) {}

  async insert(token: {
    tokenHash: string;
    userId: string;
    familyId: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.db
      .insertInto('refresh_tokens')
      .values({
        token_hash: token.tokenHash,
        user_id: token.userId,
        family_id: token.familyId,
        expires_at: token.expiresAt,
      })
      .execute();
  }

  async consume(tokenHash: string, at: Date): Promise<StoredRefreshToken | null> {
    const row = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: at })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', at)
      .returningAll()
      .executeTakeFirst();
    return row ? toRefreshToken(row) : null;
  }

  async findByHash(tokenHash: string): Promise<StoredRefreshToken | null> {
    const row = await this.db
      .selectFrom('refresh_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row ? toRefreshToken(row) : null;
  }

  async revokeFamily(familyId: string, at: Date): Promise<void> {
    await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: at })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async revokeAllOfUser(userId: string, at: Date): Promise<void> {
    await this.db
      .updateTable('refresh_tokens')
      .set({ revoked_at: at })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
  }
}

export class KyselyEmailVerificationRepository implements EmailVerificationRepository {
  constructor(private readonly db: Transaction<Database>) {}

  async insert(token: { tokenHash: string; userId: string; expiresAt: Date }): Promise<void> {
    await this.db
      .insertInto('email_verification_tokens')
      .values({ token_hash: token.tokenHash, user_id: token.userId, expires_at: token.expiresAt })
      .execute();
  }

  async consume(tokenHash: string, at: Date): Promise<{ userId: string } | null> {
    const row = await this.db
      .updateTable('email_verification_tokens')
      .set({ used_at: at })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', at)
      .returning('user_id')
      .executeTakeFirst();
    return row ? { userId: row.user_id } : null;
  }
}

/** Sliding expiry is written at most once a day per session, not on every request. */
const TOUCH_GRANULARITY_MS = 24 * 3600 * 1000;

/** Guest sessions; single statements without locks, so it serves a transaction and the pool alike. */
export class KyselyGuestSessionRepository implements GuestSessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(session: { id: string; expiresAt: Date }): Promise<void> {
    await this.db
      .insertInto('guest_sessions')
      .values({ id: session.id, expires_at: session.expiresAt })
      .execute();
  }

  async touch(id: string, now: Date, ttlMs: number): Promise<boolean> {
    const row = await this.db
      .selectFrom('guest_sessions')
      .select('expires_at')
      .where('id', '=', id)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (!row) return false;
    const renewed = new Date(now.getTime() + ttlMs);
    if (renewed.getTime() - row.expires_at.getTime() > TOUCH_GRANULARITY_MS) {
      // Renewed only while still live: a session the cleanup deleted in between is gone, not revived.
      const updated = await this.db
        .updateTable('guest_sessions')
        .set({ expires_at: renewed })
        .where('id', '=', id)
        .where('expires_at', '>', now)
        .returning('id')
        .executeTakeFirst();
      return updated !== undefined;
    }
    return true;
  }

  async deleteExpired(now: Date, limit: number): Promise<number> {
    const result = await this.db
      .deleteFrom('guest_sessions')
      .where('id', 'in', (qb) =>
        qb.selectFrom('guest_sessions').select('id').where('expires_at', '<=', now).limit(limit),
      )
      // Checked again on the rows themselves: one renewed since the sub-select ran stays.
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
