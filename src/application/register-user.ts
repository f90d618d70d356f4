import { DomainError } from '../domain/errors.js';
import { assertAcceptablePassword, normalizeEmail, type User } from '../domain/user.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { PasswordHasher } from '../ports/password-hasher.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { hashToken, issueRefreshToken, newOpaqueToken } from './auth-tokens.js';
import { confirmationEmail } from './emails.js';
import type { MergeGuest, MergeReport } from './merge-guest-into-user.js';

export interface RegisterUserInput {
  email: string;
  password: string;
  nickname?: string;
  firstName?: string;
  lastName?: string;
  /** A guest session whose cart and wishlist move to the new account. */
  guestSessionId?: string;
}

export interface SignedIn {
  user: User;
  refreshToken: string;
  /** Present when a guest session came along: what happened to its cart and wishlist. */
  merge?: MergeReport;
}

export interface RegisterUserDeps {
  uow: UnitOfWork;
  passwordHasher: PasswordHasher;
  clock: Clock;
  logger: Logger;
  refreshTokenTtlDays: number;
  publicUrl: string;
  /** Merges a guest session's cart and wishlist after sign-in; without it a guest session is ignored. */
  mergeGuest?: MergeGuest;
}

const VERIFICATION_TTL_MS = 48 * 3600 * 1000;

/**
 * Creates an account and its first refresh token; the confirmation e-mail leaves through the outbox. A guest
 * session's cart and wishlist merge afterwards, in a transaction of their own: a failed merge is reported,
 * never a failed registration.
 */
export async function registerUser(deps: RegisterUserDeps, input: RegisterUserInput): Promise<SignedIn> {
  const email = normalizeEmail(input.email);
  assertAcceptablePassword(input.password);
  // Hash before opening the transaction: bcrypt takes a fifth of a second and must not hold a connection.
  const passwordHash = await deps.passwordHasher.hash(input.password);
  const now = deps.clock.now();
  const verificationToken = newOpaqueToken();

  const result = await deps.uow.run(async (scope) => {
    const user = await scope.users.insertIfEmailFree({
      email,
      passwordHash,
      nickname: input.nickname?.trim() || null,
      firstName: input.firstName?.trim() || null,
      lastName: input.lastName?.trim() || null,
    });
    if (!user) throw new DomainError('EMAIL_TAKEN', 'an account with this e-mail already exists');
    await scope.emailVerifications.insert({
      tokenHash: hashToken(verificationToken),
      userId: user.id,
      expiresAt: new Date(now.getTime() + VERIFICATION_TTL_MS),
    });
    await scope.outbox.add(
      'email.send',
      confirmationEmail({ to: email, token: verificationToken, publicUrl: deps.publicUrl }),
    );
    const refreshToken = await issueRefreshToken(scope, {
      userId: user.id,
      now,
      ttlDays: deps.refreshTokenTtlDays,
    });
    return { user, refreshToken };
  });
  deps.logger.info(
    { operation: 'user.register', outcome: 'created', userId: result.user.id },
    'user registered',
  );
  if (input.guestSessionId && deps.mergeGuest) {
    return {
      ...result,
      merge: await deps.mergeGuest({ userId: result.user.id, sessionId: input.guestSessionId }),
    };
  }
  return result;
}
