import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { hashToken } from '../../src/application/auth-tokens.js';
import { loginUser } from '../../src/application/login-user.js';
import { registerUser } from '../../src/application/register-user.js';
import type { DomainError } from '../../src/domain/errors.js';
import type { TransactionScope, UnitOfWork } from '../../src/ports/unit-of-work.js';
import { countRows, startGround, type Ground } from '../support/ground.js';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

/** The real unit of work, counting the transactions it commits. */
class CountingUnitOfWork implements UnitOfWork {
  commits = 0;

  async run<T>(work: (scope: TransactionScope) => Promise<T>): Promise<T> {
    const result = await ground.uow.run(work);
    this.commits += 1;
    return result;
  }
}

async function setup() {
  const uow = new CountingUnitOfWork();
  const passwordHasher = new BcryptPasswordHasher(4);
  const email = `alice-${randomUUID()}@example.com`;
  const { user } = await registerUser(
    {
      uow,
      passwordHasher,
      clock: ground.clock,
      logger: new InMemoryLogger(),
      refreshTokenTtlDays: 30,
      publicUrl: 'https://shop.example',
    },
    { email, password: 'correct horse battery' },
  );
  const deps = {
    uow,
    users: ground.readers.users,
    passwordHasher,
    clock: ground.clock,
    refreshTokenTtlDays: 14,
  };
  const stored = (token: string) =>
    ground.uow.run((scope) => scope.refreshTokens.findByHash(hashToken(token)));
  return { uow, passwordHasher, deps, alice: user, email, stored };
}

async function rejectionOf(promise: Promise<unknown>): Promise<DomainError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: DomainError) => error,
  );
}

/** An address nobody registered. */
const unknownEmail = () => `bob-${randomUUID()}@example.com`;

describe('loginUser', () => {
  it('signs in with the right password and issues a new refresh token family', async () => {
    const { deps, alice, email, stored } = await setup();

    const first = await loginUser(deps, {
      email: ` ${email.toUpperCase()} `,
      password: 'correct horse battery',
    });
    const second = await loginUser(deps, { email, password: 'correct horse battery' });

    expect(first.user).toEqual(alice);
    const firstToken = await stored(first.refreshToken);
    const secondToken = await stored(second.refreshToken);
    expect(firstToken).toMatchObject({
      userId: alice.id,
      usedAt: null,
      revokedAt: null,
      expiresAt: new Date(ground.clock.now().getTime() + 14 * 24 * 3600 * 1000),
    });
    expect(secondToken?.familyId).not.toBe(firstToken?.familyId);
  });

  it('answers the same error for an unknown e-mail and a wrong password', async () => {
    const { deps, email } = await setup();

    const unknown = await rejectionOf(loginUser(deps, { email: unknownEmail(), password: 'whatever it is' }));
    const wrong = await rejectionOf(loginUser(deps, { email, password: 'wrong password' }));
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
    const { deps, passwordHasher, email } = await setup();
    const verifyDummy = vi.spyOn(passwordHasher, 'verifyDummy');
    const verify = vi.spyOn(passwordHasher, 'verify');

    await rejectionOf(loginUser(deps, { email: unknownEmail(), password: 'bobs password' }));
    expect(verifyDummy).toHaveBeenCalledExactlyOnceWith('bobs password');
    expect(verify).not.toHaveBeenCalled();

    await rejectionOf(loginUser(deps, { email: 'bob at example', password: 'bobs password' }));
    expect(verifyDummy).toHaveBeenCalledTimes(2);
    expect(verify).not.toHaveBeenCalled();

    await rejectionOf(loginUser(deps, { email, password: 'wrong password' }));
    expect(verifyDummy).toHaveBeenCalledTimes(2);
    expect(verify).toHaveBeenCalledOnce();
  });

  it('writes nothing when the sign-in fails', async () => {
    const { uow, deps, email } = await setup();
    const commitsBefore = uow.commits;
    const tokensBefore = await countRows(ground, 'refresh_tokens');

    await rejectionOf(loginUser(deps, { email, password: 'wrong password' }));
    await rejectionOf(loginUser(deps, { email: unknownEmail(), password: 'wrong password' }));

    expect(uow.commits).toBe(commitsBefore);
    expect(await countRows(ground, 'refresh_tokens')).toBe(tokensBefore);
  });
});
