import { assertAcceptablePassword, normalizeEmail, type User } from '../domain/user.js';
import type { PasswordHasher } from '../ports/password-hasher.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';

/** Creates an admin, or promotes the existing account of that e-mail and leaves its password alone. */
export async function createAdmin(
  deps: { uow: UnitOfWork; passwordHasher: PasswordHasher },
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
    await scope.users.setRole(existing.user.id, 'admin');
    return { user: { ...existing.user, role: 'admin' as const }, created: false };
  });
}
