import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { createAdmin } from '../../src/application/create-admin.js';
import { loginUser } from '../../src/application/login-user.js';
import { registerUser } from '../../src/application/register-user.js';

const passwordHasher = new BcryptPasswordHasher(4);

function setup() {
  const clock = new FixedClock();
  const uow = new InMemoryUnitOfWork({ clock });
  const login = (email: string, password: string) =>
    loginUser(
      { uow, users: uow.repositories.users, passwordHasher, clock, refreshTokenTtlDays: 30 },
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
  return { uow, login, register };
}

describe('createAdmin', () => {
  it('creates an admin account that signs in with the given password', async () => {
    const { uow, login } = setup();

    const { user, created } = await createAdmin(
      { uow, passwordHasher },
      { email: ' Root@Example.com', password: 'admin password' },
    );

    expect(created).toBe(true);
    expect(user).toMatchObject({ email: 'root@example.com', role: 'admin' });
    await expect(login('root@example.com', 'admin password')).resolves.toMatchObject({
      user: { id: user.id, role: 'admin' },
    });
  });

  it('promotes an existing account and leaves its password unchanged', async () => {
    const { uow, login, register } = setup();
    const { user: customer } = await register('alice@example.com', 'alice password');
    const hashBefore = (await uow.repositories.users.findCredentialsByEmail('alice@example.com'))
      ?.passwordHash;

    const { user, created } = await createAdmin(
      { uow, passwordHasher },
      { email: 'ALICE@example.com', password: 'a different password' },
    );

    expect(created).toBe(false);
    expect(user).toEqual({ ...customer, role: 'admin' });
    const stored = await uow.repositories.users.findCredentialsByEmail('alice@example.com');
    expect(stored).toEqual({ user: { ...customer, role: 'admin' }, passwordHash: hashBefore });
    await expect(login('alice@example.com', 'alice password')).resolves.toMatchObject({
      user: { role: 'admin' },
    });
    await expect(login('alice@example.com', 'a different password')).rejects.toMatchObject({
      code: 'INVALID_CREDENTIALS',
    });
  });

  it('answers created: false when run again for the same admin', async () => {
    const { uow } = setup();
    const first = await createAdmin(
      { uow, passwordHasher },
      { email: 'root@example.com', password: 'admin password' },
    );

    const second = await createAdmin(
      { uow, passwordHasher },
      { email: 'root@example.com', password: 'admin password' },
    );

    expect(second).toEqual({ user: first.user, created: false });
  });

  it('refuses a malformed e-mail or an unacceptable password and changes nothing', async () => {
    const { uow } = setup();

    await expect(
      createAdmin({ uow, passwordHasher }, { email: 'root', password: 'admin password' }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(
      createAdmin({ uow, passwordHasher }, { email: 'root@example.com', password: 'x'.repeat(73) }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(uow.commits + uow.rollbacks).toBe(0);
  });
});
