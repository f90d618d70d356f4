import { setTimeout as sleep } from 'node:timers/promises';

/** Who asks: buying keys comes before syncing the catalogue. */
export type G2APriority = 'fulfilment' | 'sync';

/** Paces every request to G2A of every process sharing the limiter. */
export interface G2ARateLimiter {
  /** Resolves when one more request may leave (waiting while the shared rate is spent). */
  acquire(priority: G2APriority): Promise<void>;
}

/** GCRA parameters: one slot every `intervalMs`, up to `toleranceMs` early (the burst). */
export interface GcraShape {
  intervalMs: number;
  toleranceMs: number;
  /** The slower interval a sync keeps to while fulfilment wants the rate. */
  yieldIntervalMs: number;
}

/**
 * Where the shared limiter's state lives. `reserve` either reserves a slot and answers how long until it
 * (`{ slotInMs }`: the caller waits that long and sends, without asking again), or — a sync while fulfilment
 * wants the rate and the sync's own share is spent — reserves nothing and answers when to ask again.
 */
export interface GcraStore {
  reserve(priority: G2APriority, shape: GcraShape): Promise<{ slotInMs: number } | { askAgainInMs: number }>;
}

/** A sync keeps this share of the rate while fulfilment has work; fulfilment takes the rest. */
export const SYNC_SHARE_UNDER_DEMAND = 0.05;
/** Fulfilment's demand counts this long after the last slot it reserved. */
export const DEMAND_TTL_MS = 3_000;
/**
 * The shop keeps this far under G2A's limit: G2A counts requests as they arrive, and one that happens to take
 * longer on the way than a later one must not push a window over.
 */
export const SAFETY_MARGIN = 0.01;

/**
 * The shape that never lets more than `limit` requests through in any window of `windowMs` (less the safety
 * margin): a bucket of capacity C spaced by T admits fewer than C + W/T in a window W, so T = W / (limit - C + 1).
 */
export function gcraShape(
  limit: number,
  windowMs = 60_000,
  burst = Math.max(1, Math.floor(limit / 100)),
): GcraShape {
  // At least one request under the limit is the margin: a limit of 1 would leave nothing to send.
  if (!Number.isInteger(limit) || limit < 2)
    throw new RangeError(`limit must be an integer >= 2, got ${limit}`);
  if (!Number.isFinite(windowMs) || windowMs <= 0)
    throw new RangeError(`windowMs must be a positive number, got ${windowMs}`);
  if (!Number.isFinite(burst)) throw new RangeError(`burst must be a number, got ${burst}`);
  const kept = limit - Math.max(1, Math.ceil(limit * SAFETY_MARGIN));
  const capacity = Math.max(1, Math.min(Math.floor(burst), Math.ceil(kept / 2)));
  const intervalMs = Math.ceil((windowMs * 1000) / (kept - capacity + 1)) / 1000;
  return {
    intervalMs,
    toleranceMs: (capacity - 1) * intervalMs,
    yieldIntervalMs: intervalMs / SYNC_SHARE_UNDER_DEMAND,
  };
}

/**
 * A GCRA limiter over a shared store: one budget for every process, slots handed out first come first served
 * (one store call per request), fulfilment first.
 */
export class SharedG2ARateLimiter implements G2ARateLimiter {
  private readonly shape: GcraShape;

  constructor(
    private readonly store: GcraStore,
    rate: number | GcraShape,
    private readonly onWait?: (priority: G2APriority, waitedMs: number) => void,
  ) {
    this.shape = typeof rate === 'number' ? gcraShape(rate) : rate;
  }

  async acquire(priority: G2APriority): Promise<void> {
    const started = Date.now();
    for (;;) {
      const answer = await this.store.reserve(priority, this.shape);
      if ('slotInMs' in answer) {
        if (answer.slotInMs > 0) await sleep(answer.slotInMs);
        this.onWait?.(priority, Date.now() - started);
        return;
      }
      await sleep(answer.askAgainInMs);
    }
  }
}
