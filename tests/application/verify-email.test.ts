import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { registerUser } from '../../src/application/register-user.js';
import { verifyEmail } from '../../src/application/verify-email.js';
import { expectDomainError } from '../support/errors.js';
import { startGround, type Ground } from '../support/ground.js';

const VERIFICATION_TTL_MS = 48 * 3600 * 1000;

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

async function setup() {
  // A clock of this test's own (from real now), so moving it leaves the other tests alone.
  const clock = new FixedClock(new Date());
  const uow = ground.uow;
  const email = `alice-${randomUUID()}@example.com`;
  const { user } = await registerUser(
    {
      uow,
      passwordHasher: new BcryptPasswordHasher(4),
      clock,
      logger: new InMemoryLogger(),
      refreshTokenTtlDays: 30,
      publicUrl: 'https://shop.example',
    },
    { email, password: 'correct horse battery' },
  );
  const [mail, ...others] = (await ground.outbox('email.send')).filter((message) => message.to === email);
  if (others.length > 0) throw new Error(`more than one confirmation e-mail to ${email}`);
  const token = /verify-email: (\S+)/.exec(mail?.text ?? '')?.[1];
  if (!token) throw new Error('the confirmation e-mail carries no token');
  const isVerified = async () => (await ground.readers.users.findById(user.id))?.emailVerified;
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

    await expectDomainError(verifyEmail({ uow, clock }, token), 'INVALID_TOKEN');
    expect(await isVerified()).toBe(true);
  });

  it('lets one of two concurrent verifications with one token through', async () => {
    const { uow, clock, token, isVerified } = await setup();

    const outcomes = await Promise.allSettled([
      verifyEmail({ uow, clock }, token),
      verifyEmail({ uow, clock }, token),
    ]);

    expect(outcomes.map((o) => o.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason)).toEqual([
      expect.objectContaining({ code: 'INVALID_TOKEN' }),
    ]);
    expect(await isVerified()).toBe(true);
  });

  it('refuses a token 48 hours after it was issued, and accepts it until then', async () => {
    const late = await setup();
    late.clock.advance(VERIFICATION_TTL_MS);
    await expectDomainError(verifyEmail({ uow: late.uow, clock: late.clock }, late.token), 'INVALID_TOKEN');
    expect(await late.isVerified()).toBe(false);

    const onTime = await setup();
    onTime.clock.advance(VERIFICATION_TTL_MS - 1);
    await verifyEmail({ uow: onTime.uow, clock: onTime.clock }, onTime.token);
    expect(await onTime.isVerified()).toBe(true);
  });

  it('refuses an unknown token', async () => {
    const { uow, clock, isVerified } = await setup();

    await expectDomainError(verifyEmail({ uow, clock }, 'never-issued'), 'INVALID_TOKEN');
    expect(await isVerified()).toBe(false);
  });
});
