import { sql } from 'kysely';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../support/http.js';
import { outboxJobs, queueOf } from '../support/outbox.js';
import { freePort } from '../support/redis-process.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

const shops: TestShop[] = [];
afterEach(async () => {
  while (shops.length) await shops.pop()!.dispose();
});

/** Short, fixed retry delays so a test sees several attempts within seconds. */
const fastEmailRetries = (retryLimit = 49) => ({
  'email.send': { retryLimit, retryDelaySeconds: 1, retryBackoff: false },
});

class SmtpSink {
  readonly messages: { to: string; body: string }[] = [];
  private server?: SMTPServer;

  constructor(
    readonly port: number,
    private readonly behaviour: {
      /** A recipient this server refuses (550), to fail one message of a batch. */
      refuse?: string;
      /** How long the server takes to accept a message, by how many it has accepted before (a slow server). */
      acceptAfterMs?: (received: number) => number;
    } = {},
  ) {}

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo: (address, _session, callback) =>
        callback(
          address.address === this.behaviour.refuse ? new Error('550 mailbox unavailable') : undefined,
        ),
      onData: (stream, session, callback) => {
        let body = '';
        stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
        stream.on('end', () => {
          const delay = this.behaviour.acceptAfterMs?.(this.messages.length) ?? 0;
          setTimeout(() => {
            this.messages.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), body });
            callback();
          }, delay);
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const firstEmail = async (shop: TestShop) => (await outboxJobs(shop.db, 'email.send'))[0];

describe('outbox delivery', () => {
  it('rolls the registration back when its outbox write fails: no user, no message, no e-mail', async () => {
    const shop = await startTestShop();
    shops.push(shop);
    // The e-mail message is a pg-boss job in the outbox queue's partition; refuse inserts there.
    await sql`
      CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.name = ${sql.lit(queueOf('email.send'))} THEN RAISE EXCEPTION 'outbox is refusing writes'; END IF;
      RETURN NEW; END $$`.execute(shop.db);
    await sql`CREATE TRIGGER refuse_outbox BEFORE INSERT ON pgboss.job FOR EACH ROW EXECUTE FUNCTION refuse_outbox()`.execute(
      shop.db,
    );

    const http = new ApiClient(shop);
    const response = await http.post('/auth/register', {
      email: 'rollback@example.com',
      password: 'long enough',
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
    expect(await outboxJobs(shop.db, 'email.send')).toEqual([]);

    await sql`DROP TRIGGER refuse_outbox ON pgboss.job`.execute(shop.db);
    const retry = await http.post('/auth/register', {
      email: 'rollback@example.com',
      password: 'long enough',
    });
    expect(retry.statusCode).toBe(201);
  });

  it('survives an unreachable SMTP server: sign-up succeeds, the e-mail retries and lands once SMTP is back', async () => {
    const smtp = new SmtpSink(await freePort());
    const shop = await startTestShop({
      env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` },
      outboxDelivery: fastEmailRetries(),
    });
    shops.push(shop);

    const response = await new ApiClient(shop).post('/auth/register', {
      email: 'mail@example.com',
      password: 'long enough',
    });
    expect(response.statusCode).toBe(201);

    const failing = await waitFor(async () => {
      const job = await firstEmail(shop);
      return job && job.attempts >= 2 && job.state === 'retry' ? job : undefined;
    }, 'two failed delivery attempts');
    expect(failing.lastError).toMatch(/ECONNREFUSED|connect/i);

    await smtp.start();
    try {
      const delivered = await waitFor(async () => {
        const job = await firstEmail(shop);
        return job?.state === 'completed' && !('text' in job.payload) ? job : undefined;
      }, 'e-mail delivered after SMTP came back');
      expect(smtp.messages).toHaveLength(1);
      expect(smtp.messages[0]!.to).toBe('mail@example.com');
      expect(smtp.messages[0]!.body).toContain('verify-email');
      // The delivered message keeps who and what, not the text with its live token.
      expect(delivered.payload).toEqual({ to: 'mail@example.com', subject: expect.any(String) });
    } finally {
      await smtp.stop();
    }
  });

  it('never marks a failed message delivered when another worker takes up its retry at once', async () => {
    const smtp = new SmtpSink(await freePort(), { refuse: 'refused@example.com' });
    await smtp.start();
    const shop = await startTestShop({
      env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` },
      outboxDelivery: { 'email.send': { retryLimit: 49, retryDelaySeconds: 0, retryBackoff: false } },
    });
    shops.push(shop);
    try {
      // The worst interleaving, made certain: the instant a failed message is due again, another worker (another
      // process) claims it, so its row goes from this attempt's failure straight to a new attempt.
      await sql`
        CREATE FUNCTION claim_retry() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          -- pg-boss fails a message by deleting and inserting it again; claiming is what its fetch does.
          IF NEW.name = ${sql.lit(queueOf('email.send'))} AND NEW.state = 'retry' THEN
            NEW.state := 'active'; NEW.retry_count := NEW.retry_count + 1; NEW.started_on := now();
          END IF;
          RETURN NEW;
        END $$`.execute(shop.db);
      await sql`CREATE TRIGGER claim_retry BEFORE INSERT ON pgboss.job FOR EACH ROW EXECUTE FUNCTION claim_retry()`.execute(
        shop.db,
      );
      const mail = (to: string) => ({ to, subject: 'Your key', text: `for ${to}` });
      await shop.uow.run((scope) =>
        scope.outbox.addAll('email.send', [mail('ok@example.com'), mail('refused@example.com')]),
      );
      const byRecipient = async () =>
        new Map((await outboxJobs(shop.db, 'email.send')).map((job) => [job.payload.to, job]));
      await waitFor(async () => {
        const jobs = await byRecipient();
        return (
          jobs.get('ok@example.com')?.state === 'completed' && jobs.get('refused@example.com')!.attempts >= 2
        );
      }, 'one message delivered, the other failed and taken up again');

      // A later message delivered means the worker finished the first batch and settled what it settles.
      await shop.uow.run((scope) => scope.outbox.add('email.send', mail('later@example.com')));
      await waitFor(
        async () => (await byRecipient()).get('later@example.com')?.state === 'completed',
        'later',
      );
      for (let check = 0; check < 10; check++) {
        const refused = (await byRecipient()).get('refused@example.com')!;
        expect(refused).toMatchObject({ state: 'active', attempts: 2 });
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(smtp.messages.map((m) => m.to).sort()).toEqual(['later@example.com', 'ok@example.com']);
    } finally {
      await sql`DROP TRIGGER IF EXISTS claim_retry ON pgboss.job`.execute(shop.db);
      await smtp.stop();
    }
  });

  it('a delivery that outlived its expiry neither completes nor scrubs the retry: the retry sends the whole text', async () => {
    // The first message takes the server 2.5 s; its attempt expires after 1 s and is due again after 3 s.
    const smtp = new SmtpSink(await freePort(), {
      acceptAfterMs: (received) => (received === 0 ? 2_500 : 0),
    });
    await smtp.start();
    const shop = await startTestShop({
      env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` },
      outboxDelivery: {
        'email.send': { expireInSeconds: 1, retryLimit: 5, retryDelaySeconds: 3, retryBackoff: false },
      },
    });
    shops.push(shop);
    try {
      await shop.uow.run((scope) =>
        scope.outbox.add('email.send', { to: 'slow@example.com', subject: 'Verify', text: 'token 4242' }),
      );
      // The late first send lands while the message waits for its retry: still there, text and all.
      await waitFor(() => smtp.messages.length === 1, 'the slow first send');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await firstEmail(shop))!).toMatchObject({ state: 'retry', payload: { text: 'token 4242' } });

      const delivered = await waitFor(async () => {
        const job = await firstEmail(shop);
        return job?.state === 'completed' ? job : undefined;
      }, 'the retry delivered');
      expect(smtp.messages).toHaveLength(2);
      for (const message of smtp.messages) expect(message.body).toContain('token 4242');
      expect(delivered.payload).toEqual({ to: 'slow@example.com', subject: 'Verify' });
    } finally {
      await smtp.stop();
    }
  });

  it('a batch stops starting sends at half its expiry: the rest go on a later attempt, each e-mail once', async () => {
    // 2 s a message, 6 s of expiry: two are begun within the first 3 s, the third would begin at 4 s.
    const smtp = new SmtpSink(await freePort(), { acceptAfterMs: () => 2_000 });
    await smtp.start();
    const shop = await startTestShop({
      env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` },
      outboxDelivery: {
        'email.send': { expireInSeconds: 6, retryLimit: 5, retryDelaySeconds: 0, retryBackoff: false },
      },
    });
    shops.push(shop);
    try {
      const mail = (to: string) => ({ to, subject: 'Your key', text: `for ${to}` });
      await shop.uow.run((scope) =>
        scope.outbox.addAll('email.send', ['a@example.com', 'b@example.com', 'c@example.com'].map(mail)),
      );
      const jobs = await waitFor(
        async () => {
          const all = await outboxJobs(shop.db, 'email.send');
          return all.length === 3 && all.every((job) => job.state === 'completed') ? all : undefined;
        },
        'all three delivered',
        30_000,
      );
      // A batch's messages come in no set order: two went in the first attempt, the last one in a second.
      expect(smtp.messages.map((m) => m.to).sort()).toEqual([
        'a@example.com',
        'b@example.com',
        'c@example.com',
      ]);
      const attempts = new Map(jobs.map((job) => [job.payload.to, job.attempts]));
      expect([...attempts.values()].sort()).toEqual([1, 1, 2]);
      expect(attempts.get(smtp.messages[2]!.to)).toBe(2);
    } finally {
      await smtp.stop();
    }
  }, 40_000);

  it('keeps a message as failed after its last attempt and shows it in the backlog', async () => {
    const shop = await startTestShop({
      env: { SMTP_URL: `smtp://127.0.0.1:${await freePort()}` },
      outboxDelivery: fastEmailRetries(1),
    });
    shops.push(shop);
    await shop.useCases.registerUser({ email: 'dead@example.com', password: 'long enough' });
    const dead = await waitFor(async () => {
      const job = await firstEmail(shop);
      return job?.state === 'failed' ? job : undefined;
    }, 'message failed for good');
    expect(dead.attempts).toBe(2);

    const backlog = await new ApiClient(shop).get('/admin/outbox', await new ApiClient(shop).admin());
    expect(backlog.json()).toMatchObject({
      failed: 1,
      byTopic: expect.arrayContaining([expect.objectContaining({ topic: 'email.send', failed: 1 })]),
      recentFailed: [
        expect.objectContaining({ topic: 'email.send', attempts: 2, lastError: expect.any(String) }),
      ],
    });
  });

  it('delivers again a message whose worker died mid-delivery, once its expiry passes', async () => {
    const shop = await startTestShop({
      jobMaintenanceIntervalSeconds: 1,
      outboxDelivery: { 'email.send': { expireInSeconds: 1, retryDelaySeconds: 1, retryBackoff: false } },
    });
    shops.push(shop);
    // Taken by a worker that died: active, started long ago, never completed.
    await shop.boss.offWork(queueOf('email.send'));
    const id = await shop.boss.send(queueOf('email.send'), {
      to: 'orphan@example.com',
      subject: 'Hello',
      text: 'A message whose worker died.',
    });
    await sql`UPDATE pgboss.job SET state = 'active', started_on = now() - interval '1 hour'
              WHERE id = ${id}::uuid`.execute(shop.db);
    // A live worker again (this process's replacement).
    await shop.close();
    const revived = await startTestShop({
      databaseUrl: shop.databaseUrl,
      jobMaintenanceIntervalSeconds: 1,
      outboxDelivery: { 'email.send': { expireInSeconds: 1, retryDelaySeconds: 1, retryBackoff: false } },
    });
    shops.push(revived);

    const job = await waitFor(
      async () => {
        const found = (await outboxJobs(revived.db, 'email.send')).find((j) => j.id === id);
        return found?.state === 'completed' ? found : undefined;
      },
      'the orphaned message delivered',
      15_000,
    );
    expect(job.attempts).toBe(2);
  });
});
