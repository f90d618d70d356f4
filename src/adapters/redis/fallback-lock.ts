import { LockBusyError, type Lock } from '../../ports/lock.js';
import type { Logger } from '../../ports/logger.js';
import { runHoldingLease, type LeaseSource, type LockLease } from '../lock-lease.js';
import { createThrottledWarning, type ThrottledWarning } from './throttled-warning.js';

export interface FallbackLockDeps {
  postgres: LeaseSource;
  redis: LeaseSource;
  logger?: Logger;
}

/**
 * The Postgres advisory lock always (it alone excludes: every process shares Postgres, not every process
 * reaches Redis), and the Redis lock on top whenever Redis answers. Losing either ends the lease (its signal
 * aborts): a holder whose Redis lock ran out (a frozen process, a long outage) stops at its next step rather
 * than go on under a lock it no longer holds; a sync run then resumes from its last page.
 */
export class FallbackLock implements Lock, LeaseSource {
  private readonly warn: ThrottledWarning;

  constructor(private readonly deps: FallbackLockDeps) {
    this.warn = createThrottledWarning(deps.logger);
  }

  async withLock<T>(resource: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return runHoldingLease(await this.acquire(resource), task);
  }

  async acquire(resource: string): Promise<LockLease> {
    const postgres = await this.deps.postgres.acquire(resource);
    let redis: LockLease | undefined;
    try {
      redis = await this.deps.redis.acquire(resource);
    } catch (error) {
      if (error instanceof LockBusyError) {
        await postgres.release();
        throw error;
      }
      this.warn({ err: error, resource }, 'redis lock unavailable; holding the postgres lock alone');
    }
    return {
      signal: redis ? AbortSignal.any([postgres.signal, redis.signal]) : postgres.signal,
      release: async () => {
        await redis?.release();
        await postgres.release();
      },
    };
  }
}
