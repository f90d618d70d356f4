import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { hashToken } from '../../src/application/auth-tokens.js';
import { registerUser, type RegisterUserInput } from '../../src/application/register-user.js';
import { verifyEmail } from '../../src/application/verify-email.js';
import type { MailMessage } from '../../src/ports/mailer.js';

const passwordHasher = new BcryptPasswordHasher(4);

function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const logger = new InMemoryLogger();
  const uow = new InMemoryUnitOfWork({ clock });
  const deps = {
    uow,
    passwordHasher,
    clock,
    logger,
    refreshTokenTtlDays: 30,
    publicUrl: 'https://shop.example',
  };
  return { clock, logger, uow, deps };
}

function tokenFromConfirmation(mail: MailMessage): string {
  const link = /https:\/\/\S+/.exec(mail.text)?.[0];
  const token = link ? new URL(link).searchParams.get('token') : null;
  if (!token) throw new Error(`no confirmation link in: ${mail.text}`);
  return token;
}

const alice: RegisterUserInput = { email: '  Alice@Example.COM ', password: 'correct horse battery' };

describe('registerUser', () => {
  it('stores the trimmed, lower-cased e-mail, a bcrypt hash and the trimmed names', async () => {
    const { uow, deps, clock } = setup();

    const { user } = await registerUser(deps, {
      ...alice,
      nickname: '  ali ',
      firstName: ' ',
      lastName: 'Liddell',
    });

    expect(user).toMatchObject({
      email: 'alice@example.com',
      nickname: 'ali',
      firstName: null,
      lastName: 'Liddell',
      role: 'customer',
      emailVerified: false,
      balanceCents: 0,
      createdAt: clock.now(),
    });
    const stored = await uow.repositories.users.findCredentialsByEmail('alice@example.com');
    expect(stored?.user).toEqual(user);
    expect(stored?.passwordHash).not.toContain(alice.password);
    expect(await passwordHasher.verify(alice.password, stored!.passwordHash)).toBe(true);
  });

  it('ignores fields a client should not set', async () => {
    const { deps } = setup();
    const smuggled = { ...alice, role: 'admin', balanceCents: 1_000_000 } as RegisterUserInput;

    const { user } = await registerUser(deps, smuggled);

    expect(user).toMatchObject({ role: 'customer', balanceCents: 0 });
  });

  it('answers EMAIL_TAKEN for the same address in another case, and keeps the first account', async () => {
    const { uow, deps } = setup();
    const first = await registerUser(deps, alice);

    await expect(
      registerUser(deps, { email: 'ALICE@example.com', password: 'another password' }),
    ).rejects.toMatchObject({ code: 'EMAIL_TAKEN' });

    const stored = await uow.repositories.users.findCredentialsByEmail('alice@example.com');
    expect(stored?.user.id).toBe(first.user.id);
    expect(await passwordHasher.verify(alice.password, stored!.passwordHash)).toBe(true);
    expect(uow.payloadsOf('email.send')).toHaveLength(1);
  });

  it('lets exactly one of two concurrent registrations of one e-mail through', async () => {
    const { uow, deps } = setup();

    const outcomes = await Promise.allSettled([
      registerUser(deps, alice),
      registerUser(deps, { ...alice, email: 'alice@example.com' }),
    ]);

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason)).toEqual([
      expect.objectContaining({ code: 'EMAIL_TAKEN' }),
    ]);
    expect(uow.payloadsOf('email.send')).toHaveLength(1);
  });

  it('writes exactly one confirmation e-mail to the outbox, whose token verifies the address', async () => {
    const { uow, deps, clock } = setup();
    const { user } = await registerUser(deps, alice);

    expect(uow.messages.map((m) => m.topic)).toEqual(['email.send']);
    const [mail] = uow.payloadsOf('email.send');
    expect(mail).toMatchObject({ to: 'alice@example.com', subject: expect.stringContaining('Confirm') });
    const token = tokenFromConfirmation(mail!);
    expect(mail!.text).toContain(
      `https://shop.example/api/v1/auth/verify-email?token=${encodeURIComponent(token)}`,
    );

    await verifyEmail({ uow, clock }, token);

    expect(await uow.repositories.users.findById(user.id)).toMatchObject({ emailVerified: true });
  });

  it('issues a refresh token that expires after the configured days', async () => {
    const { uow, deps, clock } = setup();

    const { user, refreshToken } = await registerUser(deps, alice);

    const stored = await uow.repositories.refreshTokens.findByHash(hashToken(refreshToken));
    expect(stored).toMatchObject({
      userId: user.id,
      usedAt: null,
      revokedAt: null,
      expiresAt: new Date(clock.now().getTime() + 30 * 24 * 3600 * 1000),
    });
  });

  it('rolls the account back when the outbox write fails, so the address stays free', async () => {
    const { uow, deps } = setup();
    uow.failNextOutboxAdd(new Error('outbox is down'));

    await expect(registerUser(deps, alice)).rejects.toThrow('outbox is down');

    expect(await uow.repositories.users.findCredentialsByEmail('alice@example.com')).toBeNull();
    expect(uow.messages).toEqual([]);
    expect({ commits: uow.commits, rollbacks: uow.rollbacks }).toEqual({ commits: 0, rollbacks: 1 });

    const retried = await registerUser(deps, alice);
    expect(retried.user.email).toBe('alice@example.com');
    expect(uow.payloadsOf('email.send')).toHaveLength(1);
  });

  it.each([
    ['a malformed e-mail', { email: 'alice.example.com', password: 'long enough' }],
    ['a short password', { email: 'alice@example.com', password: 'short' }],
    ['a password over 72 bytes', { email: 'alice@example.com', password: 'é'.repeat(37) }],
  ])('refuses %s with VALIDATION_FAILED and changes nothing', async (_case, input) => {
    const { uow, deps } = setup();

    await expect(registerUser(deps, input)).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });

    expect(uow.commits + uow.rollbacks).toBe(0);
    expect(uow.messages).toEqual([]);
  });

  it('logs the registration without the e-mail, password or tokens', async () => {
    const { logger, deps } = setup();

    const { user, refreshToken } = await registerUser(deps, alice);

    expect(logger.at('info')).toEqual([
      {
        level: 'info',
        fields: { operation: 'user.register', outcome: 'created', userId: user.id },
        message: 'user registered',
      },
    ]);
    const logged = JSON.stringify(logger.entries);
    for (const secret of [alice.password, refreshToken, 'alice@example.com'])
      expect(logged).not.toContain(secret);
  });
});
