import { BcryptPasswordHasher } from '../adapters/security/bcrypt-password-hasher.js';
import { createAdmin } from '../application/create-admin.js';
import { getProfile } from '../application/get-profile.js';
import { loginUser, type LoginUserInput } from '../application/login-user.js';
import { logoutUser } from '../application/logout-user.js';
import type { MergeGuest } from '../application/merge-guest-into-user.js';
import { refreshSession } from '../application/refresh-session.js';
import { registerUser, type RegisterUserInput } from '../application/register-user.js';
import { startGuestSession } from '../application/start-guest-session.js';
import { verifyEmail } from '../application/verify-email.js';
import type { Logger } from '../ports/logger.js';
import type { Infrastructure } from './infrastructure.js';

/** Accounts and sessions: sign-up, sign-in (with the guest merge), refresh, logout, e-mail confirmation. */
export function identityFeature(
  infra: Infrastructure,
  deps: { mergeGuestLoggingTo: (log: Logger) => MergeGuest },
) {
  const { uow, clock, config, readers } = infra;
  const passwordHasher = new BcryptPasswordHasher(config.bcryptCost);
  const tokens = { refreshTokenTtlDays: config.refreshTokenTtlDays };
  return {
    passwordHasher,
    useCases: {
      registerUser: (input: RegisterUserInput, log: Logger = infra.logger) =>
        registerUser(
          {
            uow,
            passwordHasher,
            clock,
            logger: log,
            publicUrl: config.publicUrl,
            mergeGuest: deps.mergeGuestLoggingTo(log),
            ...tokens,
          },
          input,
        ),
      loginUser: (input: LoginUserInput, log: Logger = infra.logger) =>
        loginUser(
          {
            uow,
            users: readers.users,
            passwordHasher,
            clock,
            mergeGuest: deps.mergeGuestLoggingTo(log),
            ...tokens,
          },
          input,
        ),
      refreshSession: (token: string, log: Logger = infra.logger) =>
        refreshSession({ uow, clock, logger: log, ...tokens }, token),
      logoutUser: (token: string) => logoutUser({ uow, clock }, token),
      verifyEmail: (token: string) => verifyEmail({ uow, clock }, token),
      getProfile: (userId: string) => getProfile({ users: readers.users }, userId),
      startGuestSession: () => startGuestSession({ uow, clock }),
      createAdmin: (input: { email: string; password: string }) =>
        createAdmin({ uow, passwordHasher, clock }, input),
    },
  };
}
