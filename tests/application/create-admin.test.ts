import { randomUUID } from 'node:crypto';
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
      { uow, passwordHasher },
      { email: ` Root-${id}@Example.com`, password: 'admin password' },
    );

    expect(created).toBe(true);
    expect(user).toMatchObject({ email: `root-${id}@example.com`, role: 'admin' });
    await expect(login(`root-${id}@example.com`, 'admin password')).resolves.toMatchObject({
      user: { id: user.id, role: 'admin' },
    });
  });

  it('promotes an existing account and leaves its password unchanged', async () => {
    const { uow, login, register, id } = setup();
    const email = `alice-${id}@example.com`;
    const { user: customer } = await register(email, 'alice password');
    const hashBefore = (await ground.readers.users.findCredentialsByEmail(email))?.passwordHash;

    const { user, created } = await createAdmin(
      { uow, passwordHasher },
      { email: email.toUpperCase(), password: 'a different password' },
    );

    expect(created).toBe(false);
    expect(user).toEqual({ ...customer, role: 'admin' });
    const stored = await ground.readers.users.findCredentialsByEmail(email);
    expect(stored).toEqual({ user: { ...customer, role: 'admin' }, passwordHash: hashBefore });
    await expect(login(email, 'alice password')).resolves.toMatchObject({ user: { role: 'admin' } });
    await expectDomainError(login(email, 'a different password'), 'INVALID_CREDENTIALS');
  });

  it('answers created: false when run again for the same admin', async () => {
    const { uow, id } = setup();
    const first = await createAdmin(
      { uow, passwordHasher },
      { email: `root-${id}@example.com`, password: 'admin password' },
    );

    const second = await createAdmin(
      { uow, passwordHasher },
      { email: `root-${id}@example.com`, password: 'admin password' },
    );

    expect(second).toEqual({ user: first.user, created: false });
  });

  it('refuses a malformed e-mail or an unacceptable password and changes nothing', async () => {
    const { id } = setup();
    const uow = new CountingUnitOfWork();
    const usersBefore = await countRows(ground, 'users');

    await expectDomainError(
      createAdmin({ uow, passwordHasher }, { email: `root-${id}`, password: 'admin password' }),
      'VALIDATION_FAILED',
    );
    await expectDomainError(
      createAdmin({ uow, passwordHasher }, { email: `root-${id}@example.com`, password: 'x'.repeat(73) }),
      'VALIDATION_FAILED',
    );
    expect(uow.runs).toBe(0);
    expect(await countRows(ground, 'users')).toBe(usersBefore);
  });
});
