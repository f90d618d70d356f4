export interface TokenBucketOptions {
  /** The largest burst: how many tokens an idle bucket holds. At least 1. */
  capacity: number;
  /** Milliseconds between two tokens once the burst is spent. */
  emissionIntervalMs: number;
  /** The clock, in milliseconds. */
  now?: () => number;
}

export interface WindowLimitOptions {
  /** Never more than this many tokens in any half-open window of `windowMs`. */
  limit: number;
  windowMs: number;
  /** Wanted burst; lowered when needed so that at least half of `limit` stays for steady use. */
  burst?: number;
  now?: () => number;
}

/**
 * A token bucket in its virtual-scheduling form (GCRA): instead of waiting for a token, a caller reserves the
 * next one and learns when it may use it. Reservations are O(1) and first come, first served, so concurrent
 * callers are spaced at the full rate without a lock.
 */
export class TokenBucket {
  readonly capacity: number;
  readonly emissionIntervalMs: number;
  private readonly burstToleranceMs: number;
  private readonly now: () => number;
  private theoreticalArrival = -Infinity;

  constructor(options: TokenBucketOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new RangeError(`capacity must be an integer >= 1, got ${options.capacity}`);
    }
    if (!(options.emissionIntervalMs > 0) || !Number.isFinite(options.emissionIntervalMs)) {
      throw new RangeError(`emissionIntervalMs must be a positive number, got ${options.emissionIntervalMs}`);
    }
    this.capacity = options.capacity;
    this.emissionIntervalMs = options.emissionIntervalMs;
    this.burstToleranceMs = (options.capacity - 1) * options.emissionIntervalMs;
    this.now = options.now ?? Date.now;
  }

  /**
   * A bucket that never hands out more than `limit` tokens in any window of `windowMs`, whatever the arrival
   * pattern. A bucket of capacity C spaced by T admits fewer than C + W/T tokens in a window W, so T is
   * W / (limit - C + 1), rounded up a hair so that floating-point sums cannot add one.
   */
  static limiting({ limit, windowMs, burst = 1, now }: WindowLimitOptions): TokenBucket {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
    const capacity = Math.max(1, Math.min(Math.floor(burst), Math.ceil(limit / 2)));
    const steadyTokensPerWindow = limit - capacity + 1;
    const emissionIntervalMs = Math.ceil((windowMs * 1000) / steadyTokensPerWindow) / 1000;
    return new TokenBucket({ capacity, emissionIntervalMs, now });
  }

  /** Reserves one token and returns the time (on the bucket's clock) from which the caller may use it. */
  reserve(): number {
    const now = this.now();
    const arrival = Math.max(this.theoreticalArrival, now);
    this.theoreticalArrival = arrival + this.emissionIntervalMs;
    return Math.max(now, arrival - this.burstToleranceMs);
  }

  /**
   * Holds every later reservation until `untilMs` (for instance after the server answered 429 with
   * Retry-After); they then resume one interval apart rather than in a burst.
   */
  pauseUntil(untilMs: number): void {
    this.theoreticalArrival = Math.max(this.theoreticalArrival, untilMs + this.burstToleranceMs);
  }
}
