import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { registerUser } from '../../src/application/register-user.js';
import { verifyEmail } from '../../src/application/verify-email.js';

const VERIFICATION_TTL_MS = 48 * 3600 * 1000;

async function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
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
    { email: 'alice@example.com', password: 'correct horse battery' },
  );
  const [mail] = uow.payloadsOf('email.send');
  const token = /verify-email: (\S+)/.exec(mail?.text ?? '')?.[1];
  if (!token) throw new Error('the confirmation e-mail carries no token');
  const isVerified = async () => (await uow.repositories.users.findById(user.id))?.emailVerified;
  return { clock, uow, token, isVerified };
}

describe('verifyEmail', () => {
  it('marks the address verified', async () => {
    const { uow, clock, token, isVerified } = await setup();
    expect(await isVerified()).toBe(false);

    await verifyEmail({ uow, clock }, token);

    expect(await isVerified()).toBe(true);
  });

  it('accepts a token once only', async () => {
    const { uow, clock, token, isVerified } = await setup();
    await verifyEmail({ uow, clock }, token);

    await expect(verifyEmail({ uow, clock }, token)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    expect(await isVerified()).toBe(true);
  });

  it('lets one of two concurrent verifications with one token through', async () => {
    const { uow, clock, token } = await setup();

    const outcomes = await Promise.allSettled([
      verifyEmail({ uow, clock }, token),
      verifyEmail({ uow, clock }, token),
    ]);

    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('refuses a token 48 hours after it was issued, and accepts it until then', async () => {
    const late = await setup();
    late.clock.advance(VERIFICATION_TTL_MS);
    await expect(verifyEmail({ uow: late.uow, clock: late.clock }, late.token)).rejects.toMatchObject({
      code: 'INVALID_TOKEN',
    });
    expect(await late.isVerified()).toBe(false);

    const onTime = await setup();
    onTime.clock.advance(VERIFICATION_TTL_MS - 1);
    await verifyEmail({ uow: onTime.uow, clock: onTime.clock }, onTime.token);
    expect(await onTime.isVerified()).toBe(true);
  });

  it('refuses an unknown token', async () => {
    const { uow, clock, isVerified } = await setup();

    await expect(verifyEmail({ uow, clock }, 'never-issued')).rejects.toMatchObject({
      code: 'INVALID_TOKEN',
    });
    expect(await isVerified()).toBe(false);
  });
});
