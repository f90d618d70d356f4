import { DomainError } from '../domain/errors.js';
import type { Clock } from '../ports/clock.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { hashToken } from './auth-tokens.js';

export async function verifyEmail(deps: { uow: UnitOfWork; clock: Clock }, token: string): Promise<void> {
  const now = deps.clock.now();
  const verified = await deps.uow.run(async (scope) => {
    const consumed = await scope.emailVerifications.consume(hashToken(token), now);
    if (!consumed) return false;
    await scope.users.markEmailVerified(consumed.userId, now);
    return true;
  });
  if (!verified) throw new DomainError('INVALID_TOKEN', 'the verification token is unknown, used or expired');
}
