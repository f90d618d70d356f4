import { assertAcceptablePassword, normalizeEmail, type User } from '../domain/user.js';
import type { Clock } from '../ports/clock.js';
import type { PasswordHasher } from '../ports/password-hasher.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';

/**
 * Creates an admin, or takes over the existing account of that e-mail: its password becomes the one given, it
 * becomes an admin, and every session of whoever held it before ends (refresh tokens revoked, access tokens
 * refused from now on). Whoever registered an operator's address first does not become an admin with their own
 * password.
 */
export async function createAdmin(
  deps: { uow: UnitOfWork; passwordHasher: PasswordHasher; clock: Clock },
  input: { email: string; password: string },
): Promise<{ user: User; created: boolean }> {
  const email = normalizeEmail(input.email);
  assertAcceptablePassword(input.password);
  const passwordHash = await deps.passwordHasher.hash(input.password);
  return deps.uow.run(async (scope) => {
    const inserted = await scope.users.insertIfEmailFree({
      email,
      passwordHash,
      nickname: null,
      firstName: null,
      lastName: null,
      role: 'admin',
    });
    if (inserted) return { user: inserted, created: true };
    const existing = await scope.users.findCredentialsByEmail(email);
    if (!existing) throw new Error(`user ${email} vanished while being promoted`);
    const at = deps.clock.now();
    await scope.users.takeOver(existing.user.id, { passwordHash, role: 'admin', at });
    await scope.refreshTokens.revokeAllOfUser(existing.user.id, at);
    return { user: { ...existing.user, role: 'admin' as const }, created: false };
  });
}
