import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { getProfile } from '../../src/application/get-profile.js';
import { registerUser } from '../../src/application/register-user.js';

describe('getProfile', () => {
  it('answers the stored user, without the password hash', async () => {
    const clock = new FixedClock();
    const uow = new InMemoryUnitOfWork({ clock });
    const { user } = await registerUser(
      {
        uow,
        passwordHasher: new BcryptPasswordHasher(4),
        clock,
        logger: new InMemoryLogger(),
        refreshTokenTtlDays: 30,
        publicUrl: 'https://shop.example',
      },
      { email: 'alice@example.com', password: 'correct horse battery', nickname: 'ali' },
    );

    const profile = await getProfile({ users: uow.repositories.users }, user.id);

    expect(profile).toEqual(user);
    expect(profile).not.toHaveProperty('passwordHash');
  });

  it('answers UNAUTHORIZED for a user that does not exist', async () => {
    const uow = new InMemoryUnitOfWork();

    await expect(getProfile({ users: uow.repositories.users }, randomUUID())).rejects.toMatchObject({
      code: 'UNAUTHORIZED',
    });
  });
});
