import Redlock, { ExecutionError, ResourceLockedError, type Lock as RedlockHandle } from 'redlock';
import type { Redis } from 'ioredis';
import type { RedisGuard } from './redis-guard.js';
import { LockBusyError, type Lock } from '../../ports/lock.js';
import type { Logger } from '../../ports/logger.js';
import { runHoldingLease, type LeaseSource, type LockLease } from '../lock-lease.js';

export interface RedlockLockOptions {
  /** How long the lock outlives a holder that stopped extending it (a dead process). */
  leaseMs?: number;
  /** Extend when this much of the lease is left. */
  extendAheadMs?: number;
  /** Delay between extension attempts while Redis does not answer. */
  extensionRetryMs?: number;
  logger?: Logger;
  /**
   * The process's guard of Redis calls: while it is open the lock is unavailable at once. An acquisition is not
   * cut short by the guard's bound, since one that succeeded after being given up would hold the lock unseen.
   */
  guard?: Pick<RedisGuard, 'isOpen'>;
}

const LEASE_MS = 30_000;
const EXTEND_AHEAD_MS = 10_000;
const EXTENSION_RETRY_MS = 1_000;

async function heldByAnother(error: unknown): Promise<boolean> {
  if (!(error instanceof ExecutionError)) return false;
  const attempts = await Promise.all(error.attempts);
  return attempts.some((stats) =>
    [...stats.votesAgainst.values()].some((vote) => vote instanceof ResourceLockedError),
  );
}

/**
 * A redlock lock on one Redis, auto-extended while its task runs. The extension loop is ours rather than
 * `Redlock.using()`, which retries a failed extension in a tight loop and lets a failed release replace the
 * task's own result.
 */
export class RedlockLock implements Lock, LeaseSource {
  private readonly redlock: Redlock;
  private readonly leaseMs: number;
  private readonly extendAheadMs: number;
  private readonly extensionRetryMs: number;
  private readonly logger: Logger | undefined;
  private readonly guard: Pick<RedisGuard, 'isOpen'> | undefined;

  constructor(redis: Redis, options: RedlockLockOptions = {}) {
    // A held lock must fail at once: the caller skips its run rather than queueing behind another.
    this.redlock = new Redlock([redis], { retryCount: 0 });
    this.leaseMs = options.leaseMs ?? LEASE_MS;
    this.extendAheadMs = options.extendAheadMs ?? Math.min(EXTEND_AHEAD_MS, Math.floor(this.leaseMs / 3));
    this.extensionRetryMs = options.extensionRetryMs ?? Math.min(EXTENSION_RETRY_MS, this.extendAheadMs / 4);
    this.logger = options.logger;
    this.guard = options.guard;
  }

  async withLock<T>(resource: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return runHoldingLease(await this.acquire(resource), task);
  }

  async acquire(resource: string): Promise<LockLease> {
    if (this.guard?.isOpen) throw new Error(`redis lock ${resource} is unavailable: redis is not answering`);
    let handle: RedlockHandle;
    try {
      handle = await this.redlock.acquire([resource], this.leaseMs);
    } catch (error) {
      if (await heldByAnother(error)) throw new LockBusyError(resource);
      throw new Error(`redis lock ${resource} is unavailable`, { cause: error });
    }

    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let extension: Promise<void> | undefined;
    let released = false;

    const scheduleExtension = (delayMs: number) => {
      timer = setTimeout(() => (extension = extend()), Math.max(0, delayMs));
    };
    const extend = async (): Promise<void> => {
      try {
        handle = await handle.extend(this.leaseMs);
        if (!released) scheduleExtension(handle.expiration - Date.now() - this.extendAheadMs);
      } catch (error) {
        if (released) return;
        const retryable =
          !(await heldByAnother(error)) && handle.expiration - Date.now() > this.extensionRetryMs;
        if (retryable) return scheduleExtension(this.extensionRetryMs);
        this.logger?.warn({ err: error, resource }, 'redis lock lost');
        controller.abort(new Error(`redis lock ${resource} was lost`, { cause: error }));
      }
    };
    scheduleExtension(handle.expiration - Date.now() - this.extendAheadMs);

    return {
      signal: controller.signal,
      release: async () => {
        released = true;
        clearTimeout(timer);
        await extension;
        try {
          await handle.release();
        } catch (error) {
          this.logger?.warn({ err: error, resource }, 'redis lock release failed; its lease will expire');
        }
      },
    };
  }
}
