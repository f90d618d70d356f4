import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { createAdmin } from '../../src/application/create-admin.js';
import { loginUser } from '../../src/application/login-user.js';
import { registerUser } from '../../src/application/register-user.js';
import type { TransactionScope, UnitOfWork } from '../../src/ports/unit-of-work.js';
import { expectDomainError } from '../support/errors.js';
import { countRows, startGround, type Ground } from '../support/ground.js';

const passwordHasher = new BcryptPasswordHasher(4);
const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

/** The real unit of work, counting the transactions it is asked to run. */
class CountingUnitOfWork implements UnitOfWork {
  runs = 0;

  run<T>(work: (scope: TransactionScope) => Promise<T>): Promise<T> {
    this.runs += 1;
    return ground.uow.run(work);
  }
}

function setup() {
  const { uow, clock } = ground;
  const login = (email: string, password: string) =>
    loginUser(
      { uow, users: ground.readers.users, passwordHasher, clock, refreshTokenTtlDays: 30 },
      { email, password },
    );
  const register = (email: string, password: string) =>
    registerUser(
      {
        uow,
        passwordHasher,
        clock,
        logger: new InMemoryLogger(),
        refreshTokenTtlDays: 30,
        publicUrl: 'https://shop.example',
      },
      { email, password },
    );
  return { uow, login, register, id: randomUUID() };
}

describe('createAdmin', () => {
  it('creates an admin account that signs in with the given password', async () => {
    const { uow, login, id } = setup();

    const { user, created } = await createAdmin(
      { uow, passwordHasher, clock: ground.clock },
      { email: ` Root-${id}@Example.com`, password: 'admin password' },
    );

    expect(created).toBe(true);
    expect(user).toMatchObject({ email: `root-${id}@example.com`, role: 'admin' });
    await expect(login(`root-${id}@example.com`, 'admin password')).resolves.toMatchObject({
      user: { id: user.id, role: 'admin' },
    });
  });

  it('takes over an existing account: the given password, the admin role, and every earlier session ended', async () => {
    const { uow, login, register, id } = setup();
    const email = `alice-${id}@example.com`;
    const { user: squatter, refreshToken } = await register(email, 'squatter password');
    const second = await login(email, 'squatter password');

    const { user, created } = await createAdmin(
      { uow, passwordHasher, clock: ground.clock },
      { email: email.toUpperCase(), password: 'the operator password' },
    );

    expect(created).toBe(false);
    expect(user).toEqual({ ...squatter, role: 'admin' });
    const tokens = await ground.db
      .selectFrom('refresh_tokens')
      .select(['token_hash', 'revoked_at'])
      .where('user_id', '=', squatter.id)
      .execute();
    expect(tokens.map((t) => t.token_hash).sort()).toEqual(
      [refreshToken, second.refreshToken].map(sha256).sort(),
    );
    expect(tokens.every((t) => t.revoked_at !== null)).toBe(true);
    await expect(login(email, 'the operator password')).resolves.toMatchObject({ user: { role: 'admin' } });
    await expectDomainError(login(email, 'squatter password'), 'INVALID_CREDENTIALS');
    const access = await ground.readers.users.findAccess(squatter.id);
    expect(access).toEqual({ role: 'admin', sessionsValidAfter: expect.any(Date) });
  });

  it('answers created: false when run again for the same admin', async () => {
    const { uow, id } = setup();
    const first = await createAdmin(
      { uow, passwordHasher, clock: ground.clock },
      { email: `root-${id}@example.com`, password: 'admin password' },
    );

    const second = await createAdmin(
      { uow, passwordHasher, clock: ground.clock },
      { email: `root-${id}@example.com`, password: 'admin password' },
    );

    expect(second).toEqual({ user: first.user, created: false });
  });

  it('refuses a malformed e-mail or an unacceptable password and changes nothing', async () => {
    const { id } = setup();
    const uow = new CountingUnitOfWork();
    const usersBefore = await countRows(ground, 'users');

    await expectDomainError(
      createAdmin(
        { uow, passwordHasher, clock: ground.clock },
        { email: `root-${id}`, password: 'admin password' },
      ),
      'VALIDATION_FAILED',
    );
    await expectDomainError(
      createAdmin(
        { uow, passwordHasher, clock: ground.clock },
        { email: `root-${id}@example.com`, password: 'x'.repeat(73) },
      ),
      'VALIDATION_FAILED',
    );
    expect(uow.runs).toBe(0);
    expect(await countRows(ground, 'users')).toBe(usersBefore);
  });
});
