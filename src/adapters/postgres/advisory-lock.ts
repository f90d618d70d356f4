import type { Pool, PoolClient } from 'pg';
import { LockBusyError, type Lock } from '../../ports/lock.js';
import type { Logger } from '../../ports/logger.js';
import { runHoldingLease, type LeaseSource, type LockLease } from '../lock-lease.js';

export interface PostgresAdvisoryLockOptions {
  /** How often the held session is checked; a failed check means the lock may be gone. */
  heartbeatMs?: number;
  logger?: Logger;
}

const HEARTBEAT_MS = 10_000;

/**
 * A session-level advisory lock on a connection of its own. It needs no lease: when the holder dies its session
 * ends and PostgreSQL frees the lock.
 */
export class PostgresAdvisoryLock implements Lock, LeaseSource {
  private readonly heartbeatMs: number;
  private readonly logger: Logger | undefined;

  constructor(
    private readonly pool: Pool,
    options: PostgresAdvisoryLockOptions = {},
  ) {
    this.heartbeatMs = options.heartbeatMs ?? HEARTBEAT_MS;
    this.logger = options.logger;
  }

  async withLock<T>(resource: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return runHoldingLease(await this.acquire(resource), task);
  }

  async acquire(resource: string): Promise<LockLease> {
    const client = await this.pool.connect();
    let locked: boolean;
    try {
      const result = await client.query<{ locked: boolean }>(
        'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
        [resource],
      );
      locked = result.rows[0]?.locked === true;
    } catch (error) {
      client.release(error as Error);
      throw error;
    }
    if (!locked) {
      client.release();
      throw new LockBusyError(resource);
    }
    return this.holding(client, resource);
  }

  private holding(client: PoolClient, resource: string): LockLease {
    const controller = new AbortController();
    let broken: Error | undefined;
    const lose = (error: Error) => {
      if (broken) return;
      broken = error;
      this.logger?.warn({ err: error, resource }, 'postgres advisory lock lost with its session');
      controller.abort(new Error(`postgres lock ${resource} was lost`, { cause: error }));
    };
    client.on('error', lose);

    let timer: NodeJS.Timeout | undefined;
    let heartbeat: Promise<void> | undefined;
    let released = false;
    const scheduleHeartbeat = () => {
      timer = setTimeout(() => (heartbeat = beat()), this.heartbeatMs);
    };
    const beat = async () => {
      let timeout: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          client.query('SELECT 1'),
          new Promise((_, reject) => {
            timeout = setTimeout(() => reject(new Error('heartbeat timed out')), this.heartbeatMs);
          }),
        ]);
        if (!released) scheduleHeartbeat();
      } catch (error) {
        lose(error as Error);
      } finally {
        clearTimeout(timeout);
      }
    };
    scheduleHeartbeat();

    return {
      signal: controller.signal,
      release: async () => {
        released = true;
        clearTimeout(timer);
        await heartbeat;
        try {
          if (broken) throw broken;
          await client.query('SELECT pg_advisory_unlock(hashtext($1))', [resource]);
          client.removeListener('error', lose);
          client.release();
        } catch (error) {
          // Destroying the connection ends the session, which frees the lock.
          client.release(error as Error);
        }
      },
    };
  }
}
