import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../ports/logger.js';

/** Who asks: buying keys comes before syncing the catalogue. */
export type G2APriority = 'fulfilment' | 'sync';

/** Paces every request to G2A of every process sharing the limiter. */
export interface G2ARateLimiter {
  /** Resolves when one more request may leave (waiting while the shared rate is spent). */
  acquire(priority: G2APriority): Promise<void>;
}

/** GCRA parameters: one token every `intervalMs`, up to `toleranceMs` early (the burst). */
export interface GcraShape {
  intervalMs: number;
  toleranceMs: number;
  /** The slower interval a sync keeps to while fulfilment wants the rate. */
  yieldIntervalMs: number;
}

/** Where the shared limiter's state lives: answers 0 when the request may leave, else how long to wait. */
export interface GcraStore {
  tryAcquire(priority: G2APriority, shape: GcraShape): Promise<number>;
}

/** A sync keeps this share of the rate while fulfilment has work; fulfilment takes the rest. */
export const SYNC_SHARE_UNDER_DEMAND = 0.05;
/** Fulfilment's demand counts this long after its last request for a token. */
export const DEMAND_TTL_MS = 3_000;
/** A waiting caller asks again at least this often (and fulfilment thereby renews its demand). */
const MAX_WAIT_SLICE_MS = 1_000;

/**
 * The shape that never lets more than `limit` requests through in any window of `windowMs`: a bucket of
 * capacity C spaced by T admits fewer than C + W/T in a window W, so T = W / (limit - C + 1).
 */
export function gcraShape(
  limit: number,
  windowMs = 60_000,
  burst = Math.max(1, Math.floor(limit / 100)),
): GcraShape {
  const capacity = Math.max(1, Math.min(Math.floor(burst), Math.ceil(limit / 2)));
  const intervalMs = Math.ceil((windowMs * 1000) / (limit - capacity + 1)) / 1000;
  return {
    intervalMs,
    toleranceMs: (capacity - 1) * intervalMs,
    yieldIntervalMs: intervalMs / SYNC_SHARE_UNDER_DEMAND,
  };
}

/** A GCRA limiter over a shared store: the same budget for every process, fulfilment first. */
export class SharedG2ARateLimiter implements G2ARateLimiter {
  private readonly shape: GcraShape;

  constructor(
    private readonly store: GcraStore,
    ratePerMinute: number,
    private readonly onWait?: (priority: G2APriority, waitedMs: number) => void,
  ) {
    this.shape = gcraShape(ratePerMinute);
  }

  async acquire(priority: G2APriority): Promise<void> {
    const started = Date.now();
    for (;;) {
      const waitMs = await this.store.tryAcquire(priority, this.shape);
      if (waitMs <= 0) {
        this.onWait?.(priority, Date.now() - started);
        return;
      }
      // A little jitter, so that processes woken together do not ask in one burst.
      await sleep(Math.min(waitMs, MAX_WAIT_SLICE_MS) + Math.random() * 5);
    }
  }
}

/**
 * Asks the first store while it answers, the second while it does not (Redis, then PostgreSQL). A switch
 * counts from a fresh state, so at worst one burst more goes out while Redis goes away or comes back.
 */
export class FallbackGcraStore implements GcraStore {
  private failingUntil = 0;

  constructor(
    private readonly primary: GcraStore,
    private readonly fallback: GcraStore,
    private readonly logger?: Logger,
    private readonly retryPrimaryAfterMs = 2_000,
  ) {}

  async tryAcquire(priority: G2APriority, shape: GcraShape): Promise<number> {
    if (Date.now() >= this.failingUntil) {
      try {
        return await this.primary.tryAcquire(priority, shape);
      } catch (error) {
        if (this.failingUntil === 0 || Date.now() - this.failingUntil > this.retryPrimaryAfterMs) {
          this.logger?.warn(
            { err: error },
            'shared G2A rate limiter unreachable in Redis; counting in PostgreSQL',
          );
        }
        this.failingUntil = Date.now() + this.retryPrimaryAfterMs;
      }
    }
    return this.fallback.tryAcquire(priority, shape);
  }
}
