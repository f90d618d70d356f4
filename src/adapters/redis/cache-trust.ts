import type { Logger } from '../../ports/logger.js';
import type { RedisGuard } from './redis-guard.js';

export interface CacheTrustOptions {
  guard: Pick<RedisGuard, 'state' | 'onChange'>;
  /** The oldest cache invalidation still pending and the database's clock (epoch ms). */
  pendingInvalidations: () => Promise<{ oldestCreatedMs: number | null; nowMs: number }>;
  logger?: Logger;
  /** How often the backlog is read. */
  pollMs?: number;
  /** An invalidation pending longer than this means delivery is stuck: entries may be stale. */
  stuckAfterMs?: number;
}

const POLL_MS = 100;
const STUCK_AFTER_MS = 250;

/**
 * Whether cached entries may be read. Not while invalidations that should have removed some of them are still
 * waiting: after this process's guard was open (an outage: invalidations committed meanwhile could not be
 * applied), until none created before the guard closed is pending; and whenever any invalidation has been
 * pending longer than `stuckAfterMs` (an outage seen by another process, a worker cut off). Reads that may
 * not trust the cache go to PostgreSQL; an invalidation is normally applied within milliseconds of its
 * commit, so in a healthy shop the cache is always trusted.
 */
export class CacheTrust {
  private afterOutage = false;
  private closedAtDbMs: number | null = null;
  private stuck = false;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly pollMs: number;
  private readonly stuckAfterMs: number;

  constructor(private readonly options: CacheTrustOptions) {
    this.pollMs = options.pollMs ?? POLL_MS;
    this.stuckAfterMs = options.stuckAfterMs ?? STUCK_AFTER_MS;
    options.guard.onChange((state) => {
      if (state === 'open') {
        if (this.trusted)
          options.logger?.warn(
            { operation: 'cache.trust', outcome: 'bypassed' },
            'cache bypassed until the invalidations of the outage are applied',
          );
        this.afterOutage = true;
        this.closedAtDbMs = null;
      }
    });
  }

  get trusted(): boolean {
    return !this.afterOutage && !this.stuck;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One reading of the backlog; exposed for tests. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const { oldestCreatedMs, nowMs } = await this.options.pendingInvalidations();
      const wasTrusted = this.trusted;
      this.stuck = oldestCreatedMs !== null && nowMs - oldestCreatedMs > this.stuckAfterMs;
      if (this.afterOutage && this.options.guard.state === 'closed') {
        // The first reading after the guard closed marks the moment; trust returns once nothing older waits.
        this.closedAtDbMs ??= nowMs;
        if (oldestCreatedMs === null || oldestCreatedMs > this.closedAtDbMs) this.afterOutage = false;
      }
      if (wasTrusted !== this.trusted)
        this.options.logger?.[this.trusted ? 'info' : 'warn'](
          { operation: 'cache.trust', outcome: this.trusted ? 'trusted' : 'bypassed' },
          this.trusted
            ? 'cache trusted again: every pending invalidation was applied'
            : 'cache bypassed: invalidations are waiting to be applied',
        );
    } catch {
      // PostgreSQL unreachable: keep the last reading; reads fail on PostgreSQL anyway.
    } finally {
      this.polling = false;
    }
  }
}
