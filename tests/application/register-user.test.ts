import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { hashToken } from '../../src/application/auth-tokens.js';
import { registerUser, type RegisterUserInput } from '../../src/application/register-user.js';
import { verifyEmail } from '../../src/application/verify-email.js';
import type { MailMessage } from '../../src/ports/mailer.js';
import type { OutboxWriter } from '../../src/ports/outbox.js';
import type { TransactionScope, UnitOfWork } from '../../src/ports/unit-of-work.js';
import { expectDomainError } from '../support/errors.js';
import { countRows, startGround, type Ground } from '../support/ground.js';

const passwordHasher = new BcryptPasswordHasher(4);

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

/** The real unit of work, counting the transactions it runs and how they end; it can fail one outbox write. */
class CountingUnitOfWork implements UnitOfWork {
  committed = 0;
  rolledBack = 0;

  constructor(private failNextOutboxAdd?: Error) {}

  async run<T>(work: (scope: TransactionScope) => Promise<T>): Promise<T> {
    try {
      const result = await ground.uow.run((scope) => {
        const outbox: OutboxWriter = {
          add: async (topic, payload) => {
            const failure = this.failNextOutboxAdd;
            this.failNextOutboxAdd = undefined;
            if (failure) throw failure;
            await scope.outbox.add(topic, payload);
          },
          addAll: (topic, payloads) => scope.outbox.addAll(topic, payloads),
          invalidate: (target) => scope.outbox.invalidate(target),
        };
        return work({ ...scope, outbox });
      });
      this.committed += 1;
      return result;
    } catch (error) {
      this.rolledBack += 1;
      throw error;
    }
  }
}

/** Every outbox message written since the last `clearOutbox`, by topic. */
async function outboxMessages() {
  return {
    'cache.invalidate': await ground.outbox('cache.invalidate'),
    'email.send': await ground.outbox('email.send'),
  };
}

function setup(options: { failNextOutboxAdd?: Error } = {}) {
  const logger = new InMemoryLogger();
  const uow = new CountingUnitOfWork(options.failNextOutboxAdd);
  const deps = {
    uow,
    passwordHasher,
    clock: ground.clock,
    logger,
    refreshTokenTtlDays: 30,
    publicUrl: 'https://shop.example',
  };
  // An address of this test's own, given with blanks and capitals; `email` is how it is stored.
  const id = randomUUID();
  const email = `alice-${id}@example.com`;
  const alice: RegisterUserInput = { email: `  Alice-${id}@Example.COM `, password: 'correct horse battery' };
  return { logger, uow, deps, email, alice };
}

function tokenFromConfirmation(mail: MailMessage): string {
  const link = /https:\/\/\S+/.exec(mail.text)?.[0];
  const token = link ? new URL(link).searchParams.get('token') : null;
  if (!token) throw new Error(`no confirmation link in: ${mail.text}`);
  return token;
}

/** The confirmation e-mails written to the outbox since the last `clearOutbox`, to one address. */
async function confirmationsTo(email: string): Promise<MailMessage[]> {
  return (await ground.outbox('email.send')).filter((mail) => mail.to === email);
}

describe('registerUser', () => {
  it('stores the trimmed, lower-cased e-mail, a bcrypt hash and the trimmed names', async () => {
    const { deps, alice, email } = setup();
    const before = Date.now();

    const { user } = await registerUser(deps, {
      ...alice,
      nickname: '  ali ',
      firstName: ' ',
      lastName: 'Liddell',
    });

    expect(user).toMatchObject({
      email,
      nickname: 'ali',
      firstName: null,
      lastName: 'Liddell',
      role: 'customer',
      emailVerified: false,
      balanceCents: 0,
    });
    // The database stamps the account with its own clock (the transaction's `now()`).
    expect(user.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(user.createdAt.getTime()).toBeLessThanOrEqual(Date.now() + 1000);
    const stored = await ground.readers.users.findCredentialsByEmail(email);
    expect(stored?.user).toEqual(user);
    expect(stored?.passwordHash).not.toContain(alice.password);
    expect(await passwordHasher.verify(alice.password, stored!.passwordHash)).toBe(true);
  });

  it('ignores fields a client should not set', async () => {
    const { deps, alice, email } = setup();
    const smuggled = { ...alice, role: 'admin', balanceCents: 1_000_000 } as RegisterUserInput;

    const { user } = await registerUser(deps, smuggled);

    expect(user).toMatchObject({ role: 'customer', balanceCents: 0 });
    expect(await ground.readers.users.findCredentialsByEmail(email)).toMatchObject({
      user: { role: 'customer', balanceCents: 0 },
    });
  });

  it('answers EMAIL_TAKEN for the same address in another case, and keeps the first account', async () => {
    const { deps, alice, email } = setup();
    const first = await registerUser(deps, alice);

    await expectDomainError(
      registerUser(deps, { email: email.toUpperCase(), password: 'another password' }),
      'EMAIL_TAKEN',
    );

    const stored = await ground.readers.users.findCredentialsByEmail(email);
    expect(stored?.user.id).toBe(first.user.id);
    expect(await passwordHasher.verify(alice.password, stored!.passwordHash)).toBe(true);
    expect(await confirmationsTo(email)).toHaveLength(1);
  });

  it('lets exactly one of two concurrent registrations of one e-mail through', async () => {
    const { deps, alice, email } = setup();

    const outcomes = await Promise.allSettled([
      registerUser(deps, alice),
      registerUser(deps, { ...alice, email }),
    ]);

    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => o.reason)).toEqual([
      expect.objectContaining({ code: 'EMAIL_TAKEN' }),
    ]);
    expect(await confirmationsTo(email)).toHaveLength(1);
  });

  it('writes exactly one confirmation e-mail to the outbox, whose token verifies the address', async () => {
    const { deps, alice, email } = setup();
    await ground.clearOutbox();
    const { user } = await registerUser(deps, alice);

    const messages = await outboxMessages();
    expect(messages).toEqual({ 'cache.invalidate': [], 'email.send': [expect.anything()] });
    const [mail] = messages['email.send'];
    expect(mail).toMatchObject({ to: email, subject: expect.stringContaining('Confirm') });
    const token = tokenFromConfirmation(mail!);
    expect(mail!.text).toContain(
      `https://shop.example/api/v1/auth/verify-email?token=${encodeURIComponent(token)}`,
    );

    await verifyEmail({ uow: ground.uow, clock: ground.clock }, token);

    expect(await ground.readers.users.findById(user.id)).toMatchObject({ emailVerified: true });
  });

  it('issues a refresh token that expires after the configured days', async () => {
    const { deps, alice } = setup();

    const { user, refreshToken } = await registerUser(deps, alice);

    const stored = await ground.uow.run((scope) => scope.refreshTokens.findByHash(hashToken(refreshToken)));
    expect(stored).toMatchObject({
      userId: user.id,
      usedAt: null,
      revokedAt: null,
      expiresAt: new Date(ground.clock.now().getTime() + 30 * 24 * 3600 * 1000),
    });
  });

  it('rolls the account back when the outbox write fails, so the address stays free', async () => {
    const { uow, deps, alice, email } = setup({ failNextOutboxAdd: new Error('outbox is down') });
    await ground.clearOutbox();
    const tables = ['users', 'email_verification_tokens', 'refresh_tokens'];
    const rowsBefore = await Promise.all(tables.map((table) => countRows(ground, table)));

    await expect(registerUser(deps, alice)).rejects.toThrow('outbox is down');

    expect(await ground.readers.users.findCredentialsByEmail(email)).toBeNull();
    expect(await Promise.all(tables.map((table) => countRows(ground, table)))).toEqual(rowsBefore);
    expect(await outboxMessages()).toEqual({ 'cache.invalidate': [], 'email.send': [] });
    expect({ commits: uow.committed, rollbacks: uow.rolledBack }).toEqual({ commits: 0, rollbacks: 1 });

    const retried = await registerUser(deps, alice);
    expect(retried.user.email).toBe(email);
    expect(await ground.outbox('email.send')).toHaveLength(1);
  });

  it.each([
    ['a malformed e-mail', { email: 'alice.example.com', password: 'long enough' }],
    ['a short password', { email: 'alice@example.com', password: 'short' }],
    ['a password over 72 bytes', { email: 'alice@example.com', password: 'é'.repeat(37) }],
  ])('refuses %s with VALIDATION_FAILED and changes nothing', async (_case, input) => {
    const { uow, deps } = setup();
    await ground.clearOutbox();
    const usersBefore = await countRows(ground, 'users');

    await expectDomainError(registerUser(deps, input), 'VALIDATION_FAILED');

    expect(uow.committed + uow.rolledBack).toBe(0);
    expect(await countRows(ground, 'users')).toBe(usersBefore);
    expect(await outboxMessages()).toEqual({ 'cache.invalidate': [], 'email.send': [] });
  });

  it('logs the registration without the e-mail, password or tokens', async () => {
    const { logger, deps, alice, email } = setup();

    const { user, refreshToken } = await registerUser(deps, alice);

    expect(logger.at('info')).toEqual([
      {
        level: 'info',
        fields: { operation: 'user.register', outcome: 'created', userId: user.id },
        message: 'user registered',
      },
    ]);
    const logged = JSON.stringify(logger.entries);
    for (const secret of [alice.password, refreshToken, email]) expect(logged).not.toContain(secret);
  });
});
