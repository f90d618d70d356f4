import type { Clock } from '../ports/clock.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { hashToken } from './auth-tokens.js';

/** Revokes the family of the presented refresh token. Unknown tokens are ignored: logout is idempotent. */
export async function logoutUser(
  deps: { uow: UnitOfWork; clock: Clock },
  refreshToken: string,
): Promise<void> {
  const now = deps.clock.now();
  await deps.uow.run(async (scope) => {
    const known = await scope.refreshTokens.findByHash(hashToken(refreshToken));
    if (known) await scope.refreshTokens.revokeFamily(known.familyId, now);
  });
}
