import { DomainError } from '../domain/errors.js';
import { normalizeEmail } from '../domain/user.js';
import type { Clock } from '../ports/clock.js';
import type { PasswordHasher } from '../ports/password-hasher.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import type { UserRepository } from '../ports/users.js';
import { issueRefreshToken } from './auth-tokens.js';
import type { SignedIn } from './register-user.js';

export interface LoginUserDeps {
  uow: UnitOfWork;
  users: UserRepository;
  passwordHasher: PasswordHasher;
  clock: Clock;
  refreshTokenTtlDays: number;
}

const invalidCredentials = () => new DomainError('INVALID_CREDENTIALS', 'e-mail or password is wrong');

/** Checks the password; an unknown e-mail costs the same bcrypt work and answers the same error. */
export async function loginUser(
  deps: LoginUserDeps,
  input: { email: string; password: string },
): Promise<SignedIn> {
  let email: string;
  try {
    email = normalizeEmail(input.email);
  } catch {
    await deps.passwordHasher.verifyDummy(input.password);
    throw invalidCredentials();
  }
  const credentials = await deps.users.findCredentialsByEmail(email);
  if (!credentials) {
    await deps.passwordHasher.verifyDummy(input.password);
    throw invalidCredentials();
  }
  if (!(await deps.passwordHasher.verify(input.password, credentials.passwordHash)))
    throw invalidCredentials();

  const now = deps.clock.now();
  const refreshToken = await deps.uow.run((scope) =>
    issueRefreshToken(scope, { userId: credentials.user.id, now, ttlDays: deps.refreshTokenTtlDays }),
  );
  return { user: credentials.user, refreshToken };
}
