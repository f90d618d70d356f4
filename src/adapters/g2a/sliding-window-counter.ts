/**
 * Admits at most `limit` events in any window of `windowMs`, remembering only the last `limit` admission
 * times (a ring buffer), so checking costs O(1) whatever the rate.
 */
export class SlidingWindowCounter {
  private readonly admitted: Float64Array;
  private oldest = 0;
  private count = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`limit must be an integer >= 1, got ${limit}`);
    this.admitted = new Float64Array(limit);
  }

  /** Admits an event at `nowMs` and returns 0, or refuses it and returns the milliseconds until one fits. */
  admit(nowMs: number): number {
    if (this.count < this.limit) {
      this.admitted[(this.oldest + this.count) % this.limit] = nowMs;
      this.count++;
      return 0;
    }
    const oldestAt = this.admitted[this.oldest] ?? 0;
    if (oldestAt > nowMs - this.windowMs) return oldestAt + this.windowMs - nowMs;
    this.admitted[this.oldest] = nowMs;
    this.oldest = (this.oldest + 1) % this.limit;
    return 0;
  }
}
