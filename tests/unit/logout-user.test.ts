import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { hashToken } from '../../src/application/auth-tokens.js';
import { loginUser } from '../../src/application/login-user.js';
import { logoutUser } from '../../src/application/logout-user.js';
import { refreshSession } from '../../src/application/refresh-session.js';
import { registerUser } from '../../src/application/register-user.js';

const passwordHasher = new BcryptPasswordHasher(4);

async function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const logger = new InMemoryLogger();
  const uow = new InMemoryUnitOfWork({ clock });
  const tokens = { refreshTokenTtlDays: 30 };
  const credentials = { email: 'alice@example.com', password: 'correct horse battery' };
  const { refreshToken } = await registerUser(
    { uow, passwordHasher, clock, logger, publicUrl: 'https://shop.example', ...tokens },
    credentials,
  );
  const login = () =>
    loginUser({ uow, users: uow.repositories.users, passwordHasher, clock, ...tokens }, credentials);
  const refresh = (token: string) => refreshSession({ uow, clock, logger, ...tokens }, token);
  const stored = (token: string) => uow.repositories.refreshTokens.findByHash(hashToken(token));
  return { clock, uow, refreshToken, login, refresh, stored };
}

describe('logoutUser', () => {
  it('revokes the family of the presented token, rotated members included', async () => {
    const { uow, clock, refreshToken, refresh, stored } = await setup();
    const rotated = await refresh(refreshToken);

    await logoutUser({ uow, clock }, rotated.refreshToken);

    await expect(refresh(rotated.refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
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

    await expect(refresh(rotated.refreshToken)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
