import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { getProfile } from '../../src/application/get-profile.js';
import { registerUser } from '../../src/application/register-user.js';
import { expectDomainError } from '../support/errors.js';
import { startGround, type Ground } from '../support/ground.js';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

describe('getProfile', () => {
  it('answers the stored user, without the password hash', async () => {
    const { user } = await registerUser(
      {
        uow: ground.uow,
        passwordHasher: new BcryptPasswordHasher(4),
        clock: ground.clock,
        logger: ground.logger,
        refreshTokenTtlDays: 30,
        publicUrl: 'https://shop.example',
      },
      { email: 'alice@example.com', password: 'correct horse battery', nickname: 'ali' },
    );

    const profile = await getProfile({ users: ground.readers.users }, user.id);

    expect(profile).toEqual(user);
    expect(profile).not.toHaveProperty('passwordHash');
  });

  it('answers UNAUTHORIZED for a user that does not exist', async () => {
    await expectDomainError(getProfile({ users: ground.readers.users }, randomUUID()), 'UNAUTHORIZED');
  });
});
