import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { hashToken } from '../../src/application/auth-tokens.js';
import { loginUser } from '../../src/application/login-user.js';
import { logoutUser } from '../../src/application/logout-user.js';
import { refreshSession } from '../../src/application/refresh-session.js';
import { registerUser } from '../../src/application/register-user.js';
import { expectDomainError } from '../support/errors.js';
import { startGround, type Ground } from '../support/ground.js';

const passwordHasher = new BcryptPasswordHasher(4);

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

async function setup() {
  // A clock of this test's own (from real now), so moving it leaves the other tests alone.
  const clock = new FixedClock(new Date());
  const logger = new InMemoryLogger();
  const uow = ground.uow;
  const tokens = { refreshTokenTtlDays: 30 };
  const credentials = { email: `alice-${randomUUID()}@example.com`, password: 'correct horse battery' };
  const { refreshToken } = await registerUser(
    { uow, passwordHasher, clock, logger, publicUrl: 'https://shop.example', ...tokens },
    credentials,
  );
  const login = () =>
    loginUser({ uow, users: ground.readers.users, passwordHasher, clock, ...tokens }, credentials);
  const refresh = (token: string) => refreshSession({ uow, clock, logger, ...tokens }, token);
  const stored = (token: string) => uow.run((scope) => scope.refreshTokens.findByHash(hashToken(token)));
  return { clock, uow, refreshToken, login, refresh, stored };
}

describe('logoutUser', () => {
  it('revokes the family of the presented token, rotated members included', async () => {
    const { uow, clock, refreshToken, refresh, stored } = await setup();
    const rotated = await refresh(refreshToken);

    await logoutUser({ uow, clock }, rotated.refreshToken);

    await expectDomainError(refresh(rotated.refreshToken), 'UNAUTHORIZED');
    expect(await stored(refreshToken)).toMatchObject({ revokedAt: clock.now() });
    expect(await stored(rotated.refreshToken)).toMatchObject({ revokedAt: clock.now() });
  });

  it('leaves the sessions of other devices signed in', async () => {
    const { uow, clock, refreshToken, login, refresh } = await setup();
    const otherDevice = await login();

    await logoutUser({ uow, clock }, refreshToken);

    await expect(refresh(otherDevice.refreshToken)).resolves.toMatchObject({
      refreshToken: expect.any(String),
    });
  });

  it('is idempotent: a second logout, a spent token or an unknown token all succeed and change nothing', async () => {
    const { uow, clock, refreshToken, refresh, stored } = await setup();
    const rotated = await refresh(refreshToken);
    await logoutUser({ uow, clock }, rotated.refreshToken);
    const revokedAt = clock.now();
    clock.advance(60_000);

    await expect(logoutUser({ uow, clock }, rotated.refreshToken)).resolves.toBeUndefined();
    await expect(logoutUser({ uow, clock }, refreshToken)).resolves.toBeUndefined();
    await expect(logoutUser({ uow, clock }, 'never-issued')).resolves.toBeUndefined();

    expect(await stored(refreshToken)).toMatchObject({ revokedAt });
    expect(await stored(rotated.refreshToken)).toMatchObject({ revokedAt });
  });

  it('also revokes the family when the presented token was already spent', async () => {
    const { uow, clock, refreshToken, refresh } = await setup();
    const rotated = await refresh(refreshToken);

    await logoutUser({ uow, clock }, refreshToken);

    await expectDomainError(refresh(rotated.refreshToken), 'UNAUTHORIZED');
  });
});
