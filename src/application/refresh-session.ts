import { DomainError } from '../domain/errors.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { hashToken, issueRefreshToken } from './auth-tokens.js';
import type { SignedIn } from './register-user.js';

export interface RefreshSessionDeps {
  uow: UnitOfWork;
  clock: Clock;
  logger: Logger;
  refreshTokenTtlDays: number;
}

/**
 * Rotates a refresh token: the presented one is spent and a new one of the same family issued. Presenting a
 * spent token means it leaked (or a client replayed it): the whole family is revoked.
 */
export async function refreshSession(deps: RefreshSessionDeps, refreshToken: string): Promise<SignedIn> {
  const tokenHash = hashToken(refreshToken);
  const now = deps.clock.now();
  const outcome = await deps.uow.run(async (scope) => {
    const consumed = await scope.refreshTokens.consume(tokenHash, now);
    if (!consumed) {
      const known = await scope.refreshTokens.findByHash(tokenHash);
      if (known?.usedAt) {
        await scope.refreshTokens.revokeFamily(known.familyId, now);
        return { reused: true as const, familyId: known.familyId };
      }
      return { invalid: true as const };
    }
    const user = await scope.users.findById(consumed.userId);
    if (!user) return { invalid: true as const };
    const next = await issueRefreshToken(scope, {
      userId: user.id,
      familyId: consumed.familyId,
      now,
      ttlDays: deps.refreshTokenTtlDays,
    });
    return { user, refreshToken: next };
  });

  if ('reused' in outcome) {
    deps.logger.warn(
      { operation: 'auth.refresh', outcome: 'reuse', familyId: outcome.familyId },
      'refresh token reused',
    );
    throw new DomainError('TOKEN_REUSED', 'this refresh token was already used; sign in again');
  }
  if ('invalid' in outcome) throw new DomainError('UNAUTHORIZED', 'refresh token is invalid or expired');
  return outcome;
}
