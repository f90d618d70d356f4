import { describe, expect, it, vi } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { hashToken } from '../../src/application/auth-tokens.js';
import { loginUser } from '../../src/application/login-user.js';
import { registerUser } from '../../src/application/register-user.js';
import type { DomainError } from '../../src/domain/errors.js';

async function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const uow = new InMemoryUnitOfWork({ clock });
  const passwordHasher = new BcryptPasswordHasher(4);
  const { user } = await registerUser(
    {
      uow,
      passwordHasher,
      clock,
      logger: new InMemoryLogger(),
      refreshTokenTtlDays: 30,
      publicUrl: 'https://shop.example',
    },
    { email: 'alice@example.com', password: 'correct horse battery' },
  );
  const deps = { uow, users: uow.repositories.users, passwordHasher, clock, refreshTokenTtlDays: 14 };
  return { clock, uow, passwordHasher, deps, alice: user };
}

async function rejectionOf(promise: Promise<unknown>): Promise<DomainError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: DomainError) => error,
  );
}

describe('loginUser', () => {
  it('signs in with the right password and issues a new refresh token family', async () => {
    const { uow, deps, clock, alice } = await setup();

    const first = await loginUser(deps, { email: ' ALICE@example.com ', password: 'correct horse battery' });
    const second = await loginUser(deps, { email: 'alice@example.com', password: 'correct horse battery' });

    expect(first.user).toEqual(alice);
    const firstToken = await uow.repositories.refreshTokens.findByHash(hashToken(first.refreshToken));
    const secondToken = await uow.repositories.refreshTokens.findByHash(hashToken(second.refreshToken));
    expect(firstToken).toMatchObject({
      userId: alice.id,
      usedAt: null,
      revokedAt: null,
      expiresAt: new Date(clock.now().getTime() + 14 * 24 * 3600 * 1000),
    });
    expect(secondToken?.familyId).not.toBe(firstToken?.familyId);
  });

  it('answers the same error for an unknown e-mail and a wrong password', async () => {
    const { deps } = await setup();

    const unknown = await rejectionOf(
      loginUser(deps, { email: 'bob@example.com', password: 'whatever it is' }),
    );
    const wrong = await rejectionOf(
      loginUser(deps, { email: 'alice@example.com', password: 'wrong password' }),
    );
    const malformed = await rejectionOf(
      loginUser(deps, { email: 'not an e-mail', password: 'whatever it is' }),
    );

    expect(unknown.code).toBe('INVALID_CREDENTIALS');
    expect({ code: wrong.code, message: wrong.message }).toEqual({
      code: unknown.code,
      message: unknown.message,
    });
    expect({ code: malformed.code, message: malformed.message }).toEqual({
      code: unknown.code,
      message: unknown.message,
    });
  });

  it('spends a dummy verification on an unknown or malformed e-mail, and a real one on a wrong password', async () => {
    const { deps, passwordHasher } = await setup();
    const verifyDummy = vi.spyOn(passwordHasher, 'verifyDummy');
    const verify = vi.spyOn(passwordHasher, 'verify');

    await rejectionOf(loginUser(deps, { email: 'bob@example.com', password: 'bobs password' }));
    expect(verifyDummy).toHaveBeenCalledExactlyOnceWith('bobs password');
    expect(verify).not.toHaveBeenCalled();

    await rejectionOf(loginUser(deps, { email: 'bob at example', password: 'bobs password' }));
    expect(verifyDummy).toHaveBeenCalledTimes(2);
    expect(verify).not.toHaveBeenCalled();

    await rejectionOf(loginUser(deps, { email: 'alice@example.com', password: 'wrong password' }));
    expect(verifyDummy).toHaveBeenCalledTimes(2);
    expect(verify).toHaveBeenCalledOnce();
  });

  it('writes nothing when the sign-in fails', async () => {
    const { uow, deps } = await setup();
    const commitsBefore = uow.commits;

    await rejectionOf(loginUser(deps, { email: 'alice@example.com', password: 'wrong password' }));
    await rejectionOf(loginUser(deps, { email: 'bob@example.com', password: 'wrong password' }));

    expect(uow.commits).toBe(commitsBefore);
  });
});
