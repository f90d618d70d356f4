import CircuitBreaker from 'opossum';
import type { Logger } from '../../ports/logger.js';

export interface RedisGuardOptions {
  logger?: Logger;
  /** Bound on one call, well under the client's command timeout (250 ms): a frozen Redis costs this, once. */
  callTimeoutMs?: number;
  /** Consecutive failures (timeouts included) that open the guard at once, whatever came before them. */
  consecutiveFailuresToOpen?: number;
  /** How long the guard stays open before it lets one trial call through. */
  resetTimeoutMs?: number;
  /**
   * The trial call sent when the guard turns half-open (a `PING`), so that a process with nothing else to send
   * (its cache worker paused) still finds out that Redis is back.
   */
  probe?: () => Promise<unknown>;
}

export type RedisGuardState = 'closed' | 'open' | 'halfOpen';

const CALL_TIMEOUT_MS = 150;
const CONSECUTIVE_FAILURES_TO_OPEN = 3;
const RESET_TIMEOUT_MS = 2_000;

/**
 * One circuit breaker for everything a process sends to Redis (cache, limits, locks, the progress board), so
 * that what one part learns about a dead Redis every part knows at once. opossum counts failures over a short
 * rolling window (one second, half of them failing opens it), and a run of consecutive failures opens it at
 * once: under load the successes of the second before would otherwise keep it closed for several seconds
 * while every call waited out its timeout.
 */
export class RedisGuard {
  private readonly breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  private readonly listeners = new Set<(state: RedisGuardState) => void>();
  private consecutiveFailures = 0;

  constructor(options: RedisGuardOptions = {}) {
    const toOpen = options.consecutiveFailuresToOpen ?? CONSECUTIVE_FAILURES_TO_OPEN;
    this.breaker = new CircuitBreaker((operation: () => Promise<unknown>) => operation(), {
      timeout: options.callTimeoutMs ?? CALL_TIMEOUT_MS,
      resetTimeout: options.resetTimeoutMs ?? RESET_TIMEOUT_MS,
      errorThresholdPercentage: 50,
      volumeThreshold: 5,
      rollingCountTimeout: 1_000,
      rollingCountBuckets: 10,
    });
    this.breaker.on('success', () => {
      this.consecutiveFailures = 0;
    });
    this.breaker.on('failure', () => {
      this.consecutiveFailures += 1;
      if (this.consecutiveFailures >= toOpen && this.breaker.closed) this.breaker.open();
    });
    // Logged when Redis goes away and when it is back; the half-open trials in between (every reset
    // timeout of a long outage) only tell the listeners.
    let reported: RedisGuardState = 'closed';
    const announce = (state: RedisGuardState) => () => {
      if (state !== 'halfOpen' && state !== reported) {
        reported = state;
        options.logger?.[state === 'open' ? 'warn' : 'info'](
          { operation: 'redis.guard', outcome: state },
          state === 'open'
            ? 'redis guard open: working without redis'
            : 'redis guard closed: redis answers again',
        );
      }
      for (const listener of this.listeners) listener(state);
    };
    this.breaker.on('open', announce('open'));
    this.breaker.on('halfOpen', () => {
      announce('halfOpen')();
      const { probe } = options;
      if (probe) this.run(probe).catch(() => undefined);
    });
    this.breaker.on('close', () => {
      this.consecutiveFailures = 0;
      announce('closed')();
    });
  }

  /** Runs one Redis call under the guard: rejected at once while open, bounded by the call timeout. */
  run<R>(operation: () => Promise<R>): Promise<R> {
    return this.breaker.fire(operation) as Promise<R>;
  }

  /** Open: calls are refused without trying Redis (half-open lets one trial call through). */
  get isOpen(): boolean {
    return this.breaker.opened;
  }

  get state(): RedisGuardState {
    return this.breaker.opened ? 'open' : this.breaker.halfOpen ? 'halfOpen' : 'closed';
  }

  /** Called on every change of state; answers a function that stops the calls. */
  onChange(listener: (state: RedisGuardState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  shutdown(): void {
    this.listeners.clear();
    this.breaker.shutdown();
  }
}
