import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/adapters/g2a/token-bucket.js';
import { mulberry32 } from '../../src/adapters/g2a/seeded-random.js';
import { busiestWindow } from '../support/busiest-window.js';

function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    set: (ms: number) => {
      now = ms;
    },
  };
}

describe('TokenBucket', () => {
  it('lets a burst of `capacity` through at once, then spaces callers by the emission interval', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ capacity: 3, emissionIntervalMs: 100, now: clock.now });
    const slots = Array.from({ length: 6 }, () => bucket.reserve() - clock.now());
    expect(slots).toEqual([0, 0, 0, 100, 200, 300]);
  });

  it('refills while idle, up to its capacity only', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ capacity: 2, emissionIntervalMs: 100, now: clock.now });
    bucket.reserve();
    bucket.reserve();
    expect(bucket.reserve() - clock.now()).toBe(100);
    clock.advance(10_000);
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()].map((slot) => slot - clock.now())).toEqual([
      0, 0, 100,
    ]);
  });

  it('gives concurrent callers distinct, increasing slots (first come, first served)', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ capacity: 1, emissionIntervalMs: 50, now: clock.now });
    const slots = Array.from({ length: 100 }, () => bucket.reserve());
    for (let index = 1; index < slots.length; index++) {
      expect((slots[index] as number) - (slots[index - 1] as number)).toBe(50);
    }
  });

  it('holds later reservations during a pause and resumes them one interval apart', () => {
    const clock = manualClock();
    const bucket = new TokenBucket({ capacity: 5, emissionIntervalMs: 100, now: clock.now });
    bucket.pauseUntil(clock.now() + 2_000);
    const waits = Array.from({ length: 3 }, () => bucket.reserve() - clock.now());
    expect(waits).toEqual([2_000, 2_100, 2_200]);
  });

  it('rejects a capacity below 1 and a non-positive interval', () => {
    expect(() => new TokenBucket({ capacity: 0, emissionIntervalMs: 100 })).toThrow(RangeError);
    expect(() => new TokenBucket({ capacity: 1, emissionIntervalMs: 0 })).toThrow(RangeError);
  });

  describe('limiting', () => {
    it.each([
      { limit: 600, burst: 6 },
      { limit: 600, burst: 1 },
      { limit: 600, burst: 50 },
      { limit: 7, burst: 3 },
      { limit: 1, burst: 4 },
    ])(
      'never exceeds $limit per 60 s window with burst $burst, whatever the arrivals',
      ({ limit, burst }) => {
        const windowMs = 60_000;
        const random = mulberry32(limit * 31 + burst);
        const clock = manualClock(0);
        const bucket = TokenBucket.limiting({ limit, windowMs, burst, now: clock.now });
        const slots: number[] = [];
        for (let request = 0; request < limit * 5; request++) {
          // Alternate floods (many callers at one instant) with idle gaps long enough to refill the bucket.
          if (random() < 0.05) clock.advance(random() * windowMs);
          else if (random() < 0.5) clock.advance(random() * 20);
          slots.push(bucket.reserve());
        }
        expect(busiestWindow(slots, windowMs)).toBeLessThanOrEqual(limit);
      },
    );

    it.each([6, 50])(
      'stays within the limit when a full burst is followed by a flood (burst %i)',
      (burst) => {
        const clock = manualClock(0);
        const bucket = TokenBucket.limiting({ limit: 600, windowMs: 60_000, burst, now: clock.now });
        const slots = Array.from({ length: 1_500 }, () => bucket.reserve());
        expect(busiestWindow(slots, 60_000)).toBe(600);
      },
    );

    it('keeps the sustained rate within 2% of the limit for the default burst', () => {
      const clock = manualClock(0);
      const bucket = TokenBucket.limiting({ limit: 600, windowMs: 60_000, burst: 6, now: clock.now });
      let last = 0;
      for (let request = 0; request < 6_000; request++) last = bucket.reserve();
      const perMinute = 6_000 / (last / 60_000);
      expect(perMinute).toBeGreaterThan(588);
      expect(perMinute).toBeLessThanOrEqual(600);
    });

    it('never lets the burst take more than half the window', () => {
      const bucket = TokenBucket.limiting({ limit: 10, windowMs: 60_000, burst: 100 });
      expect(bucket.capacity).toBe(5);
      expect(bucket.emissionIntervalMs).toBe(10_000);
    });
  });
});
