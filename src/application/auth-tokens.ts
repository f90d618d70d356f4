import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { TransactionScope } from '../ports/unit-of-work.js';

export const REFRESH_TOKEN_BYTES = 32;

/** Tokens are stored as SHA-256 digests: a database leak does not leak live tokens. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function newOpaqueToken(bytes = REFRESH_TOKEN_BYTES): string {
  return randomBytes(bytes).toString('base64url');
}

/** Issues a refresh token, opening a new family unless one is given (rotation keeps the family). */
export async function issueRefreshToken(
  scope: Pick<TransactionScope, 'refreshTokens'>,
  input: { userId: string; now: Date; ttlDays: number; familyId?: string },
): Promise<string> {
  const token = newOpaqueToken();
  await scope.refreshTokens.insert({
    tokenHash: hashToken(token),
    userId: input.userId,
    familyId: input.familyId ?? randomUUID(),
    expiresAt: new Date(input.now.getTime() + input.ttlDays * 24 * 3600 * 1000),
  });
  return token;
}
