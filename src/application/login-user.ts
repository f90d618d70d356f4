import { DomainError } from '../domain/errors.js';
import { normalizeEmail, PASSWORD_MAX_BYTES } from '../domain/user.js';
import type { Clock } from '../ports/clock.js';
import type { PasswordHasher } from '../ports/password-hasher.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import type { UserReader } from '../ports/users.js';
import { issueRefreshToken } from './auth-tokens.js';
import type { MergeGuest } from './merge-guest-into-user.js';
import type { SignedIn } from './register-user.js';

export interface LoginUserDeps {
  uow: UnitOfWork;
  users: UserReader;
  passwordHasher: PasswordHasher;
  clock: Clock;
  refreshTokenTtlDays: number;
  /** Merges a guest session's cart and wishlist after sign-in; without it a guest session is ignored. */
  mergeGuest?: MergeGuest;
}

const invalidCredentials = () => new DomainError('INVALID_CREDENTIALS', 'e-mail or password is wrong');

export interface LoginUserInput {
  email: string;
  password: string;
  /** A guest session whose cart and wishlist move to the account. */
  guestSessionId?: string;
}

/**
 * Checks the password; an unknown e-mail costs the same bcrypt work and answers the same error. A guest
 * session's cart and wishlist merge after the sign-in committed: a failed merge is reported, never a failed
 * sign-in.
 */
export async function loginUser(deps: LoginUserDeps, input: LoginUserInput): Promise<SignedIn> {
  // No stored password is longer (sign-up refuses it), and bcrypt would compare only its first 72 bytes: a
  // right password followed by anything would sign in.
  if (Buffer.byteLength(input.password, 'utf8') > PASSWORD_MAX_BYTES) {
    await deps.passwordHasher.verifyDummy(input.password);
    throw invalidCredentials();
  }
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

  // A hash made at a lower cost than today's is replaced while the password is at hand.
  const stronger = deps.passwordHasher.needsRehash(credentials.passwordHash)
    ? await deps.passwordHasher.hash(input.password)
    : undefined;
  const now = deps.clock.now();
  const refreshToken = await deps.uow.run(async (scope) => {
    if (stronger)
      await scope.users.upgradePasswordHash(credentials.user.id, credentials.passwordHash, stronger);
    return issueRefreshToken(scope, { userId: credentials.user.id, now, ttlDays: deps.refreshTokenTtlDays });
  });
  if (input.guestSessionId && deps.mergeGuest) {
    const merge = await deps.mergeGuest({ userId: credentials.user.id, sessionId: input.guestSessionId });
    return { user: credentials.user, refreshToken, merge };
  }
  return { user: credentials.user, refreshToken };
}
