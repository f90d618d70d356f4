import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { hashToken } from '../../src/application/auth-tokens.js';
import { loginUser } from '../../src/application/login-user.js';
import { refreshSession } from '../../src/application/refresh-session.js';
import { registerUser } from '../../src/application/register-user.js';
import { expectDomainError } from '../support/errors.js';
import { startGround, type Ground } from '../support/ground.js';

const DAY_MS = 24 * 3600 * 1000;
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
  const { user, refreshToken } = await registerUser(
    { uow, passwordHasher, clock, logger, publicUrl: 'https://shop.example', ...tokens },
    credentials,
  );
  const deps = { uow, clock, logger, ...tokens };
  const login = () =>
    loginUser({ uow, users: ground.readers.users, passwordHasher, clock, ...tokens }, credentials);
  const stored = (token: string) => uow.run((scope) => scope.refreshTokens.findByHash(hashToken(token)));
  return { clock, logger, deps, alice: user, refreshToken, login, stored };
}

describe('refreshSession', () => {
  it('rotates: spends the presented token and issues a new one of the same family', async () => {
    const { deps, clock, alice, refreshToken, stored } = await setup();
    clock.advance(DAY_MS);

    const rotated = await refreshSession(deps, refreshToken);

    expect(rotated.user).toEqual(alice);
    expect(rotated.refreshToken).not.toBe(refreshToken);
    const spent = await stored(refreshToken);
    const next = await stored(rotated.refreshToken);
    expect(spent).toMatchObject({ usedAt: clock.now(), revokedAt: null });
    expect(next).toMatchObject({
      familyId: spent!.familyId,
      userId: alice.id,
      usedAt: null,
      expiresAt: new Date(clock.now().getTime() + 30 * DAY_MS),
    });

    const again = await refreshSession(deps, rotated.refreshToken);
    expect((await stored(again.refreshToken))?.familyId).toBe(spent!.familyId);
  });

  it('answers TOKEN_REUSED for a spent token and revokes its whole family, but no other', async () => {
    const { deps, logger, refreshToken, login, stored } = await setup();
    const otherDevice = await login();
    const rotated = await refreshSession(deps, refreshToken);

    await expectDomainError(refreshSession(deps, refreshToken), 'TOKEN_REUSED');

    expect(await stored(rotated.refreshToken)).toMatchObject({ revokedAt: expect.any(Date) });
    await expectDomainError(refreshSession(deps, rotated.refreshToken), 'UNAUTHORIZED');
    await expect(refreshSession(deps, otherDevice.refreshToken)).resolves.toMatchObject({
      refreshToken: expect.any(String),
    });
    const family = (await stored(refreshToken))!.familyId;
    expect(logger.at('warn')).toEqual([
      {
        level: 'warn',
        fields: { operation: 'auth.refresh', outcome: 'reuse', familyId: family },
        message: 'refresh token reused',
      },
    ]);
    expect(JSON.stringify(logger.entries)).not.toContain(refreshToken);
  });

  it('lets one of two concurrent refreshes with one token win and treats the other as reuse', async () => {
    const { deps, refreshToken } = await setup();

    const outcomes = await Promise.allSettled([
      refreshSession(deps, refreshToken),
      refreshSession(deps, refreshToken),
    ]);

    const winners = outcomes.filter((o) => o.status === 'fulfilled');
    expect(winners).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason)).toEqual([
      expect.objectContaining({ code: 'TOKEN_REUSED' }),
    ]);
    // The reuse revoked the family, the winner's new token included.
    await expectDomainError(refreshSession(deps, winners[0]!.value.refreshToken), 'UNAUTHORIZED');
  });

  it('refuses a token once it has expired, and works until then', async () => {
    const first = await setup();
    first.clock.advance(30 * DAY_MS - 1);
    await expect(refreshSession(first.deps, first.refreshToken)).resolves.toBeDefined();

    const second = await setup();
    second.clock.advance(30 * DAY_MS);
    await expectDomainError(refreshSession(second.deps, second.refreshToken), 'UNAUTHORIZED');
    // Expired is not reuse: the family is left alone and nothing was spent.
    expect(await second.stored(second.refreshToken)).toMatchObject({ usedAt: null, revokedAt: null });
  });

  it('refuses an unknown token with UNAUTHORIZED', async () => {
    const { deps, logger } = await setup();

    await expectDomainError(refreshSession(deps, 'never-issued'), 'UNAUTHORIZED');
    expect(logger.at('warn')).toEqual([]);
  });
});
