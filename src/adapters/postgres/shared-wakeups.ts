import pg from 'pg';
import type { Logger } from '../../ports/logger.js';
import type { WorkerWakeups } from '../jobs/worker-wakeups.js';

const CHANNEL = 'keyshop_outbox_wake';
const RECONNECT_MS = 1_000;

/**
 * Wakes the outbox workers of every process through PostgreSQL's LISTEN/NOTIFY: a process that could not do a
 * message's after-commit step (its Redis is unreachable) says so, and every process that listens wakes its
 * workers of that queue at once instead of at their next poll.
 */
export class SharedWakeups {
  private client: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly databaseUrl: string,
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    /** Once shutdown begins, a lost connection is expected (the database may stop first): no reconnection. */
    private readonly stopping?: AbortSignal,
  ) {}

  /** Every process: tells the others that messages of `queue` wait (best effort; they poll anyway). */
  notify(queue: string): void {
    this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, queue]).catch((error: unknown) => {
      this.logger.debug({ err: error }, 'outbox wake-up not sent');
    });
  }

  /** A process with workers: listens on its own connection, and keeps listening across reconnections. */
  async listen(wakeups: WorkerWakeups): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl, application_name: 'keyshop-wakeups' });
    client.on('notification', (message) => {
      if (message.payload) wakeups.wake([message.payload]);
    });
    client.on('error', (error) => {
      if (this.stopping?.aborted) {
        void client.end().catch(() => undefined);
        return;
      }
      this.logger.warn({ error: error.message }, 'outbox wake-up listener lost its connection; reconnecting');
      void client.end().catch(() => undefined);
      this.again(wakeups);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      this.client = client;
    } catch (error) {
      this.logger.warn({ err: error }, 'outbox wake-up listener could not connect; retrying');
      void client.end().catch(() => undefined);
      this.again(wakeups);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
  }

  private again(wakeups: WorkerWakeups): void {
    if (this.closed) return;
    this.client = undefined;
    this.retry = setTimeout(() => void this.listen(wakeups), RECONNECT_MS);
    this.retry.unref();
  }
}
