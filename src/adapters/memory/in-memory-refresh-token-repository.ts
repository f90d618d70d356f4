import { randomUUID } from 'node:crypto';
import type { RefreshTokenRepository, StoredRefreshToken } from '../../ports/tokens.js';
import { constraintViolation, type RefreshTokenRow, type TableAccess } from './memory-tables.js';

function toRefreshToken(row: RefreshTokenRow): StoredRefreshToken {
  return {
    id: row.id,
    userId: row.userId,
    familyId: row.familyId,
    expiresAt: new Date(row.expiresAt),
    usedAt: row.usedAt && new Date(row.usedAt),
    revokedAt: row.revokedAt && new Date(row.revokedAt),
  };
}

export class InMemoryRefreshTokenRepository implements RefreshTokenRepository {
  constructor(private readonly access: TableAccess) {}

  insert(token: { tokenHash: string; userId: string; familyId: string; expiresAt: Date }): Promise<void> {
    return this.access.write((tables) => {
      if (tables.refreshTokens.has(token.tokenHash))
        throw constraintViolation('unique', 'refresh_tokens_token_hash_key');
      if (!tables.users.has(token.userId))
        throw constraintViolation('foreign key', 'refresh_tokens_user_id_fkey');
      tables.refreshTokens.set(token.tokenHash, {
        id: randomUUID(),
        tokenHash: token.tokenHash,
        userId: token.userId,
        familyId: token.familyId,
        expiresAt: new Date(token.expiresAt),
        usedAt: null,
        revokedAt: null,
      });
    });
  }

  consume(tokenHash: string, at: Date): Promise<StoredRefreshToken | null> {
    return this.access.write((tables) => {
      const row = tables.refreshTokens.get(tokenHash);
      if (!row || row.usedAt || row.revokedAt || row.expiresAt <= at) return null;
      row.usedAt = new Date(at);
      return toRefreshToken(row);
    });
  }

  findByHash(tokenHash: string): Promise<StoredRefreshToken | null> {
    return this.access.read((tables) => {
      const row = tables.refreshTokens.get(tokenHash);
      return row ? toRefreshToken(row) : null;
    });
  }

  revokeFamily(familyId: string, at: Date): Promise<void> {
    return this.access.write((tables) => {
      for (const row of tables.refreshTokens.values()) {
        if (row.familyId === familyId && !row.revokedAt) row.revokedAt = new Date(at);
      }
    });
  }
}
