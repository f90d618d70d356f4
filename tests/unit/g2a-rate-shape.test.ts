import { describe, expect, it } from 'vitest';
import {
  gcraShape,
  SAFETY_MARGIN,
  SYNC_SHARE_UNDER_DEMAND,
  type GcraShape,
} from '../../src/adapters/g2a/g2a-rate-limiter.js';
import { TokenBucket } from '../../src/adapters/g2a/token-bucket.js';
import { mulberry32 } from '../../src/adapters/g2a/seeded-random.js';
import { busiestWindow } from '../support/busiest-window.js';

/** What the shape keeps to: the limit less the safety margin (1 %, at least one request). */
const keptOf = (limit: number) => limit - Math.max(1, Math.ceil(limit * SAFETY_MARGIN));

/**
 * The arithmetic the store runs for one fulfilment request: the slot is the theoretical arrival time less the
 * tolerance (never before now), and the arrival time moves on by one interval per reservation.
 */
function gcra(shape: GcraShape) {
  let tat = -Infinity;
  return (now: number): number => {
    const arrival = Math.max(tat, now);
    tat = arrival + shape.intervalMs;
    return Math.max(now, arrival - shape.toleranceMs);
  };
}

/**
 * Callers that ask whenever they like (floods, idle gaps, the occasional long pause); each reserves a slot
 * and leaves at it, on the millisecond after it like the store's answer rounded up (or exactly when
 * `integerClock` is false). Returns the departure times.
 */
function drive(shape: GcraShape, requests: number, windowMs: number, seed: number, integerClock: boolean) {
  const random = mulberry32(seed);
  const reserve = gcra(shape);
  const departures: number[] = [];
  let now = 0;
  for (let request = 0; request < requests; request++) {
    const gap = random();
    if (gap < 0.03) now += random() * windowMs;
    else if (gap < 0.5) now += random() * 20;
    if (integerClock) now = Math.ceil(now);
    const slot = reserve(now);
    departures.push(integerClock ? now + Math.ceil(slot - now) : slot);
    // Most callers ask again once their request left; some ask while earlier slots are still ahead.
    if (random() < 0.7) now = Math.max(now, slot);
  }
  return departures;
}

describe('gcraShape', () => {
  // The kept limit, worked out by hand: 1 % of the limit, rounded up, with at least one request.
  it.each([
    { limit: 600, windowMs: 60_000, burst: 6, kept: 594, intervalMs: 101.868, capacity: 6 },
    { limit: 600, windowMs: 60_000, burst: 1, kept: 594, intervalMs: 101.011, capacity: 1 },
    { limit: 600, windowMs: 60_000, burst: 50, kept: 594, intervalMs: 110.092, capacity: 50 },
    { limit: 1_000, windowMs: 60_000, burst: 10, kept: 990, intervalMs: 61.163, capacity: 10 },
    { limit: 30, windowMs: 2_000, burst: 3, kept: 29, intervalMs: 74.075, capacity: 3 },
    { limit: 100, windowMs: 1_000, burst: 5, kept: 99, intervalMs: 10.527, capacity: 5 },
    { limit: 101, windowMs: 1_000, burst: 1, kept: 99, intervalMs: 10.102, capacity: 1 },
    { limit: 7, windowMs: 60_000, burst: 3, kept: 6, intervalMs: 15_000, capacity: 3 },
    { limit: 3, windowMs: 1_000, burst: 2, kept: 2, intervalMs: 500, capacity: 1 },
    { limit: 2, windowMs: 60_000, burst: 1, kept: 1, intervalMs: 60_000, capacity: 1 },
    { limit: 2, windowMs: 60_000, burst: 4, kept: 1, intervalMs: 60_000, capacity: 1 },
  ])(
    'keeps $kept of $limit per $windowMs ms and spaces and bursts like TokenBucket.limiting of that (burst $burst)',
    ({ limit, windowMs, burst, kept, intervalMs, capacity }) => {
      expect(keptOf(limit)).toBe(kept);
      const shape = gcraShape(limit, windowMs, burst);
      expect(shape.intervalMs).toBe(intervalMs);
      expect(shape.toleranceMs).toBeCloseTo((capacity - 1) * intervalMs, 9);
      const bucket = TokenBucket.limiting({ limit: kept, windowMs, burst });
      expect(bucket.capacity).toBe(capacity);
      expect(shape.intervalMs).toBe(bucket.emissionIntervalMs);
      expect(shape.toleranceMs).toBeCloseTo((bucket.capacity - 1) * bucket.emissionIntervalMs, 9);
      // Not the bucket of the full limit: the margin is really kept (by a longer interval or a smaller burst).
      const full = TokenBucket.limiting({ limit, windowMs, burst });
      expect(shape.intervalMs > full.emissionIntervalMs || capacity < full.capacity).toBe(true);
    },
  );

  it('takes the interval W / (kept - burst + 1), rounded up to a microsecond, never down', () => {
    for (const [limit, windowMs, burst] of [
      [600, 60_000, 6],
      [30, 2_000, 3],
      [100, 1_000, 5],
      [997, 60_000, 9],
      [10_000, 60_000, 100],
    ] as const) {
      const exact = windowMs / (keptOf(limit) - burst + 1);
      const { intervalMs, toleranceMs } = gcraShape(limit, windowMs, burst);
      expect(intervalMs).toBeGreaterThanOrEqual(exact);
      expect(intervalMs - exact).toBeLessThan(0.001);
      expect(toleranceMs).toBeCloseTo((burst - 1) * intervalMs, 9);
    }
    expect(gcraShape(600)).toEqual(gcraShape(600, 60_000, 6));
    expect(gcraShape(600).intervalMs).toBe(101.868);
  });

  it.each([0, -1, 1, 1.5, 599.9, Number.NaN, Number.POSITIVE_INFINITY])(
    'refuses a limit of %s with a RangeError',
    (limit) => {
      expect(() => gcraShape(limit)).toThrow(RangeError);
      expect(() => gcraShape(limit, 2_000, 3)).toThrow(/limit must be an integer >= 2/);
    },
  );

  it('defaults to one request of burst per hundred of the limit, at least one', () => {
    expect(gcraShape(50).toleranceMs).toBe(0);
    expect(gcraShape(199).toleranceMs).toBe(0);
    expect(gcraShape(250).toleranceMs).toBeCloseTo(gcraShape(250).intervalMs, 9);
    expect(gcraShape(1_000).toleranceMs).toBeCloseTo(9 * gcraShape(1_000).intervalMs, 9);
  });

  it('caps the burst at half the kept limit, rounded up', () => {
    // 10 per minute keeps 9: a burst of at most 5, the other 5 spaced 12 s apart.
    const shape = gcraShape(10, 60_000, 100);
    expect(shape.intervalMs).toBe(12_000);
    expect(shape.toleranceMs).toBe(48_000);
    expect(gcraShape(3, 60_000, 100)).toEqual(gcraShape(3, 60_000, 1));
    expect(gcraShape(2, 60_000, 100)).toEqual({
      intervalMs: 60_000,
      toleranceMs: 0,
      yieldIntervalMs: 60_000 / SYNC_SHARE_UNDER_DEMAND,
    });
    // A burst below one is one: no tolerance.
    expect(gcraShape(30, 2_000, 0).toleranceMs).toBe(0);
  });

  it('gives a yielding sync the promised share of the interval', () => {
    for (const limit of [2, 30, 600, 10_000]) {
      const shape = gcraShape(limit);
      expect(shape.intervalMs / shape.yieldIntervalMs).toBeCloseTo(SYNC_SHARE_UNDER_DEMAND, 12);
    }
  });

  describe('driven by a fake clock', () => {
    const cases = [
      { limit: 600, windowMs: 60_000, burst: 6 },
      { limit: 600, windowMs: 60_000, burst: 1 },
      { limit: 600, windowMs: 60_000, burst: 300 },
      { limit: 30, windowMs: 2_000, burst: 3 },
      { limit: 100, windowMs: 1_000, burst: 5 },
      { limit: 7, windowMs: 60_000, burst: 3 },
      { limit: 3, windowMs: 1_000, burst: 2 },
      { limit: 2, windowMs: 60_000, burst: 4 },
    ];

    it.each(cases)(
      'never lets more than the kept part of $limit leave in a window of $windowMs ms (burst $burst), whatever the arrivals',
      ({ limit, windowMs, burst }) => {
        const shape = gcraShape(limit, windowMs, burst);
        for (const integerClock of [true, false]) {
          for (let seed = 1; seed <= 5; seed++) {
            const departures = drive(
              shape,
              limit * 6,
              windowMs,
              limit * 1_000 + burst * 10 + seed,
              integerClock,
            );
            expect(busiestWindow(departures, windowMs)).toBeLessThanOrEqual(keptOf(limit));
          }
        }
      },
    );

    it.each(cases.filter(({ limit }) => limit > 1))(
      'keeps G2A to $limit per $windowMs ms (burst $burst) while transit times differ by less than the margin',
      ({ limit, windowMs, burst }) => {
        // The margin of m requests is m intervals of transit: a window of W + m·T holds at most the limit.
        const shape = gcraShape(limit, windowMs, burst);
        const spread = (limit - keptOf(limit)) * shape.intervalMs * 0.999;
        for (let seed = 1; seed <= 5; seed++) {
          const transit = mulberry32(seed * 7_919);
          const arrivals = drive(shape, limit * 6, windowMs, limit * 1_000 + seed, false).map(
            (at) => at + transit() * spread,
          );
          expect(busiestWindow(arrivals, windowMs)).toBeLessThanOrEqual(limit);
        }
      },
    );

    it.each(cases.filter(({ limit }) => limit > 1))(
      'reaches exactly the kept part of $limit when a full burst meets a flood, and $limit at G2A once the first requests take up to the margin longer on the way ($windowMs ms, burst $burst)',
      ({ limit, windowMs, burst }) => {
        const shape = gcraShape(limit, windowMs, burst);
        const reserve = gcra(shape);
        const departures: number[] = [];
        let now = 0;
        while (departures.length < limit * 3) {
          now = reserve(now);
          departures.push(now);
        }
        expect(busiestWindow(departures, windowMs)).toBe(keptOf(limit));
        const margin = (limit - keptOf(limit)) * shape.intervalMs;
        // Every request that leaves before `delay` arrives at `delay`: transit times differ by up to `delay`.
        const late = (delay: number) => departures.map((at) => Math.max(at, delay));
        // Just under the margin: G2A still sees no more than its limit...
        expect(busiestWindow(late(margin - 0.01), windowMs)).toBe(limit);
        // ...just over it (the intervals are rounded up by under a microsecond each), one too many: the margin
        // is all the tolerance there is.
        expect(busiestWindow(late(margin + 1), windowMs)).toBe(limit + 1);
      },
    );

    it('refuses a window or a burst that is not a number, and a window of zero or less', () => {
      for (const windowMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => gcraShape(30, windowMs)).toThrow(/windowMs must be a positive number/);
      }
      for (const burst of [Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => gcraShape(30, 2_000, burst)).toThrow(/burst must be a number/);
      }
    });

    it('keeps the sustained rate at (kept - burst + 1) per window for the default burst, within 2% of the limit', () => {
      const shape = gcraShape(600);
      const reserve = gcra(shape);
      let now = 0;
      let granted = 0;
      while (granted < 6_000) {
        now = Math.ceil(reserve(now));
        granted++;
      }
      const perMinute = granted / (now / 60_000);
      // 594 kept, 6 of burst: 589 a minute once the burst is spent, a little more over ten minutes.
      expect(perMinute).toBeGreaterThan(589);
      expect(perMinute).toBeLessThan(590);
      expect(perMinute).toBeGreaterThan(600 * 0.98);
    });
  });
});
