import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { outboxQueuePolicies } from '../../src/adapters/jobs/outbox-queues.js';
import { freePort } from '../support/redis-process.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

const shops: TestShop[] = [];
afterEach(async () => {
  while (shops.length) await shops.pop()!.dispose();
});

/** Short, fixed retry delays so a test sees several attempts within seconds. */
const fastRetries = () => ({
  ...outboxQueuePolicies({ emailMaxAttempts: 50 }),
  'email.send': { queue: 'outbox-email', retryLimit: 49, retryDelaySeconds: 1, retryBackoff: false },
});

class SmtpSink {
  readonly messages: { to: string; body: string }[] = [];
  private server?: SMTPServer;

  constructor(readonly port: number) {}

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData: (stream, session, callback) => {
        let body = '';
        stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
        stream.on('end', () => {
          this.messages.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), body });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function outboxRow(shop: TestShop, topic: string) {
  return shop.db.selectFrom('outbox').selectAll().where('topic', '=', topic).orderBy('id').executeTakeFirst();
}

describe('outbox delivery', () => {
  it('rolls the registration back when its outbox write fails: no user, no job, no e-mail', async () => {
    const shop = await startTestShop();
    shops.push(shop);
    await sql`
      CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'outbox is refusing writes'; END $$`.execute(shop.db);
    await sql`CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION refuse_outbox()`.execute(
      shop.db,
    );

    const response = await shop.app!.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: 'rollback@example.com', password: 'long enough' },
    });
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      statusCode: 500,
      code: 'INTERNAL_ERROR',
      error: 'Internal Server Error',
      message: expect.not.stringContaining('outbox'),
    });

    expect(await shop.db.selectFrom('users').selectAll().execute()).toEqual([]);
    expect(await shop.db.selectFrom('refresh_tokens').selectAll().execute()).toEqual([]);
    expect(await shop.db.selectFrom('email_verification_tokens').selectAll().execute()).toEqual([]);
    const jobs = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM pgboss.job WHERE name = 'outbox-email'`.execute(shop.db);
    expect(jobs.rows[0]!.n).toBe(0);

    await sql`DROP TRIGGER refuse_outbox ON outbox`.execute(shop.db);
    const retry = await shop.app!.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: 'rollback@example.com', password: 'long enough' },
    });
    expect(retry.statusCode).toBe(201);
  });

  it('survives an unreachable SMTP server: sign-up succeeds, the e-mail retries and lands once SMTP is back', async () => {
    const smtp = new SmtpSink(await freePort());
    const shop = await startTestShop({
      env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` },
      outboxPolicies: fastRetries(),
    });
    shops.push(shop);

    const response = await shop.app!.inject({
      method: 'POST',
      url: '/api/v1/auth/register',
      payload: { email: 'mail@example.com', password: 'long enough' },
    });
    expect(response.statusCode).toBe(201);

    const failing = await waitFor(async () => {
      const row = await outboxRow(shop, 'email.send');
      return row && row.attempts >= 2 ? row : undefined;
    }, 'two failed delivery attempts');
    expect(failing.status).toBe('pending');
    expect(failing.last_error).toMatch(/ECONNREFUSED|connect/i);

    await smtp.start();
    try {
      const delivered = await waitFor(async () => {
        const row = await outboxRow(shop, 'email.send');
        return row?.status === 'done' ? row : undefined;
      }, 'e-mail delivered after SMTP came back');
      expect(delivered.processed_at).not.toBeNull();
      expect(smtp.messages).toHaveLength(1);
      expect(smtp.messages[0]!.to).toBe('mail@example.com');
      expect(smtp.messages[0]!.body).toContain('verify-email');
      // The sent row keeps who and what, not the text with its live token.
      expect(delivered.payload).toEqual({ to: 'mail@example.com', subject: expect.any(String) });
    } finally {
      await smtp.stop();
    }
  });

  it('marks a row dead after its last attempt and shows it in the backlog', async () => {
    const policies = {
      ...fastRetries(),
      'email.send': { queue: 'outbox-email', retryLimit: 1, retryDelaySeconds: 1, retryBackoff: false },
    };
    const shop = await startTestShop({
      env: { SMTP_URL: `smtp://127.0.0.1:${await freePort()}` },
      outboxPolicies: policies,
    });
    shops.push(shop);
    await shop.useCases.registerUser({ email: 'dead@example.com', password: 'long enough' });
    const dead = await waitFor(async () => {
      const row = await outboxRow(shop, 'email.send');
      return row?.status === 'dead' ? row : undefined;
    }, 'row marked dead');
    expect(dead.attempts).toBe(2);

    await shop.useCases.createAdmin({ email: 'ops@example.com', password: 'ops password' });
    const admin = await shop.useCases.loginUser({ email: 'ops@example.com', password: 'ops password' });
    const { accessToken } = await shop.app!.signAccessToken({ sub: admin.user.id, role: 'admin' });
    const backlog = await shop.app!.inject({
      method: 'GET',
      url: '/api/v1/admin/outbox',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(backlog.json()).toMatchObject({
      failed: 1,
      byTopic: expect.arrayContaining([expect.objectContaining({ topic: 'email.send', failed: 1 })]),
      recentFailed: [expect.objectContaining({ topic: 'email.send', attempts: 2 })],
    });
  });
});
