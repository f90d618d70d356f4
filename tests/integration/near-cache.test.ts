import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSharedEntry } from '../../src/domain/cache-keys.js';
import { InvalidationFeed, invalidationChannel } from '../../src/adapters/redis/invalidation-feed.js';
import { NearCache } from '../../src/adapters/redis/near-cache.js';
import { createRedisClient } from '../../src/adapters/redis/redis-client.js';
import { RedisCache } from '../../src/adapters/redis/redis-cache.js';
import { RedisGuard } from '../../src/adapters/redis/redis-guard.js';
import type { CacheRef } from '../../src/ports/cache.js';
import { deferred } from '../support/deferred.js';
import { RedisProcess } from '../support/redis-process.js';
import { redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';

/** One process's cache stack: its Redis client and guard, a near cache and the feed keeping it coherent. */
interface Process {
  cache: RedisCache;
  near: NearCache;
  feed: InvalidationFeed;
  guard: RedisGuard;
  redis: Redis;
}

describe('the near cache in front of Redis', () => {
  const prefix = uniqueRedisPrefix();
  let raw: Redis;
  let a: Process;
  let b: Process;

  async function startProcess(options: { maxEntries?: number; maxBytes?: number } = {}): Promise<Process> {
    const redis = createRedisClient(redisUrl(), { keyPrefix: prefix });
    const guard = new RedisGuard({ callTimeoutMs: 2_000, probe: () => redis.ping() });
    const near = new NearCache({
      maxEntries: options.maxEntries ?? 1_000,
      maxBytes: options.maxBytes ?? 1024 * 1024,
      ttlMs: 60_000,
      admits: isSharedEntry,
    });
    guard.onChange((state) => near.setRedisHealthy(state === 'closed'));
    const feed = new InvalidationFeed(redis, near);
    feed.start();
    const cache = new RedisCache(redis, { guard, near });
    await waitFor(() => near.active, 'the near cache to be subscribed');
    return { cache, near, feed, guard, redis };
  }

  async function stopProcess(p: Process): Promise<void> {
    await p.feed.close();
    p.guard.shutdown();
    p.redis.disconnect();
  }

  /** A read of `ref` that counts its loads, answering `value`. */
  function reader(p: Process, ref: CacheRef) {
    let loads = 0;
    return {
      read: (value: unknown) =>
        p.cache.getOrLoadJson(ref, 60, async () => {
          loads += 1;
          return value;
        }),
      get loads() {
        return loads;
      },
    };
  }

  async function killSubscriber(p: Process): Promise<void> {
    const clients = (await raw.client('LIST')) as string;
    const line = clients.split('\n').find((l) => l.includes(`name=${p.feed.connectionName} `));
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
    if (!id) throw new Error(`no client named ${p.feed.connectionName}`);
    await raw.client('KILL', 'ID', id);
  }

  beforeAll(async () => {
    raw = new Redis(redisUrl());
    a = await startProcess();
    b = await startProcess();
  });

  afterAll(async () => {
    await stopProcess(a);
    await stopProcess(b);
    const leftovers = await raw.keys(`${prefix}*`);
    if (leftovers.length > 0) await raw.del(...leftovers);
    raw.disconnect();
  });

  it('answers a repeated read from memory, without Redis or the loader', async () => {
    const game = reader(a, { key: 'game:near-1' });
    expect(await game.read({ priceCents: 100 })).toBe('{"priceCents":100}');
    const before = { near: a.near.stats().hits, redis: a.cache.hits + a.cache.misses };

    for (let n = 0; n < 5; n += 1) expect(await game.read({ priceCents: 999 })).toBe('{"priceCents":100}');

    expect(game.loads).toBe(1);
    expect(a.near.stats().hits - before.near).toBe(5);
    expect(a.cache.hits + a.cache.misses).toBe(before.redis);
  });

  it('keeps only shared entries: carts, wishlists and orders always go to Redis', async () => {
    for (const key of ['user:u1:cart', 'user:u1:wishlist', 'user:u1:orders', 'order:o1', 'session:s1:cart']) {
      const entry = reader(a, { key });
      await entry.read({ v: 1 });
      const redisReads = a.cache.hits;
      expect(await entry.read({ v: 2 })).toBe('{"v":1}');
      expect(a.cache.hits).toBe(redisReads + 1);
    }
    expect(isSharedEntry({ key: 'taxonomy:genres' })).toBe(true);
    expect(isSharedEntry({ family: 'catalog' })).toBe(true);
  });

  it('drops an entry in every process when any process invalidates it', async () => {
    const inA = reader(a, { key: 'game:near-2' });
    const inB = reader(b, { key: 'game:near-2' });
    await inA.read({ priceCents: 100 });
    await inB.read({ priceCents: 100 });
    expect(b.near.get({ key: 'game:near-2' })).toBe('{"priceCents":100}');

    await a.cache.invalidate({ keys: ['game:near-2'] });

    // The invalidating process sees its own write at once; the other as soon as the message arrives.
    expect(await inA.read({ priceCents: 200 })).toBe('{"priceCents":200}');
    await waitFor(() => b.near.get({ key: 'game:near-2' }) === undefined, 'B to hear the invalidation');
    expect(await inB.read({ priceCents: 300 })).toBe('{"priceCents":200}');
  });

  it('drops every member of a family when its generation moves', async () => {
    const pages = ['q1', 'q2', 'q3'].map((member) => reader(b, { family: 'catalog', member }));
    for (const page of pages) await page.read({ page: 'old' });
    const home = reader(b, { family: 'home', member: '' });
    await home.read({ home: 'old' });

    await a.cache.invalidate({ families: ['catalog'] });
    await waitFor(
      () => b.near.get({ family: 'catalog', member: 'q1' }) === undefined,
      'B to drop the catalogue family',
    );

    for (const page of pages) expect(await page.read({ page: 'new' })).toBe('{"page":"new"}');
    expect(await home.read({ home: 'new' })).toBe('{"home":"old"}');
  });

  it('does not keep a fill that raced an invalidation (no stale set, near as in Redis)', async () => {
    const ref = { key: 'game:near-race' };
    const loading = deferred();
    const loaded = deferred();
    const slow = b.cache.getOrLoadJson(ref, 60, async () => {
      loaded.resolve();
      await loading.promise;
      return { priceCents: 'old' };
    });
    await loaded.promise;
    await a.cache.invalidate({ keys: [ref.key] });
    const sequence = Number(await raw.get(`${prefix}cache:invalidation-sequence`));
    await waitFor(() => (b.feed.heardSequence ?? 0) >= sequence, 'B to hear it');
    loading.resolve();
    expect(await slow).toBe('{"priceCents":"old"}');

    expect(b.near.get(ref)).toBeUndefined();
    expect(await reader(b, ref).read({ priceCents: 'new' })).toBe('{"priceCents":"new"}');
  });

  it('refuses a near fill when an invalidation is heard between the Redis answer and the fill', async () => {
    const ref = { key: 'game:near-race-2' };
    await reader(a, ref).read({ priceCents: 'old' });
    // B's read reaches Redis before the invalidation, its answer is kept only if nothing was heard since.
    const ticket = b.near.ticket(ref);
    b.near.drop({ keys: ['game:somewhere-else'] });
    b.near.keep(ref, '{"priceCents":"old"}', 60, ticket);
    expect(b.near.get(ref)).toBeUndefined();
    expect(b.near.stats().refused).toBeGreaterThanOrEqual(1);
  });

  it('clears everything and stops keeping entries when the subscription is killed, until it is back', async () => {
    const game = reader(b, { key: 'game:near-kill' });
    await game.read({ priceCents: 1 });
    expect(b.near.size).toBeGreaterThan(0);

    await killSubscriber(b);
    await waitFor(() => !b.near.active, 'B to notice the lost subscription');
    expect(b.near.size).toBe(0);
    // Meanwhile a change B cannot hear of: B must read it from Redis.
    await a.cache.invalidate({ keys: ['game:near-kill'] });
    expect(await game.read({ priceCents: 2 })).toBe('{"priceCents":2}');

    await waitFor(() => b.near.active, 'B to subscribe again');
    await game.read({ priceCents: 3 });
    expect(b.near.get({ key: 'game:near-kill' })).toBe('{"priceCents":2}');
  });

  it('clears everything when a message was missed (a gap in the sequence)', async () => {
    const game = reader(b, { key: 'game:near-gap' });
    await game.read({ priceCents: 1 });
    await a.cache.invalidate({ keys: ['game:unrelated-1'] });
    await waitFor(() => b.feed.heardSequence !== undefined, 'B to hear a first message');
    await game.read({ priceCents: 1 });
    expect(b.near.get({ key: 'game:near-gap' })).toBe('{"priceCents":1}');

    // An invalidation B never hears of (published elsewhere): the next message it hears skips a number.
    await raw.incr(`${prefix}cache:invalidation-sequence`);
    const clears = b.near.stats().clears;
    await a.cache.invalidate({ keys: ['game:unrelated-2'] });

    await waitFor(() => b.near.stats().clears > clears, 'B to clear on the gap');
    expect(b.near.get({ key: 'game:near-gap' })).toBeUndefined();
  });

  it('clears everything on a message it cannot read', async () => {
    await reader(b, { key: 'game:near-garbled' }).read({ v: 1 });
    await raw.publish(invalidationChannel(prefix), 'garbled');
    await waitFor(() => b.near.get({ key: 'game:near-garbled' }) === undefined, 'B to clear');
  });

  it('stops keeping entries while the Redis guard is open', async () => {
    await reader(b, { key: 'game:near-guard' }).read({ v: 1 });
    expect(b.near.size).toBeGreaterThan(0);
    // Three calls that fail open the guard at once.
    for (let n = 0; n < 3; n += 1) {
      await b.guard.run(() => Promise.reject(new Error('redis refused'))).catch(() => undefined);
    }
    expect(b.guard.isOpen).toBe(true);
    expect(b.near.active).toBe(false);
    expect(b.near.size).toBe(0);
    await waitFor(() => b.near.active, 'the guard to close again (probe)', 10_000);
  });

  it('notices a subscription that went silent (no close, nothing delivered) and clears itself', async () => {
    const server = await RedisProcess.onFreePort();
    await server.start();
    const redis = createRedisClient(server.url);
    const near = new NearCache({ maxEntries: 100, maxBytes: 1 << 20, ttlMs: 60_000, admits: isSharedEntry });
    const feed = new InvalidationFeed(redis, near);
    try {
      feed.start();
      await waitFor(() => near.active, 'subscribed');
      const ticket = near.ticket({ key: 'game:silent' });
      near.keep({ key: 'game:silent' }, '{"v":1}', 60, ticket);
      expect(near.size).toBe(1);

      // Frozen, Redis neither answers nor closes the connection; no cache call is made meanwhile.
      server.freeze();
      await waitFor(() => !near.active, 'the heartbeat to notice', 10_000);
      expect(near.size).toBe(0);
      server.thaw();
      await waitFor(() => near.active, 'subscribed again', 15_000);
    } finally {
      server.thaw();
      await feed.close();
      redis.disconnect();
      await server.stop();
    }
  });

  it('leaves fills in flight alone when only per-user entries are invalidated', async () => {
    const ref = { key: 'game:near-carts' };
    const ticket = b.near.ticket(ref);
    b.near.drop({ keys: ['user:u1:cart', 'session:s1:wishlist', 'order:o1'] });
    b.near.keep(ref, '{"v":1}', 60, ticket);
    expect(b.near.get(ref)).toBe('{"v":1}');
    // A TTL of 0 (not cached in Redis either) is never kept near.
    const zero = { key: 'game:near-zero-ttl' };
    b.near.keep(zero, '{"v":1}', 0, b.near.ticket(zero));
    expect(b.near.get(zero)).toBeUndefined();
  });

  it('is bounded by entries and by bytes, least recently used going first', async () => {
    // Sizes count the key and the JSON text: `game:bounded-1` + `{"n":1}` is 21.
    const small = await startProcess({ maxEntries: 3, maxBytes: 120 });
    try {
      for (const n of [1, 2, 3, 4]) await reader(small, { key: `game:bounded-${n}` }).read({ n });
      expect(small.near.size).toBe(3);
      expect(small.near.get({ key: 'game:bounded-1' })).toBeUndefined();

      // 107 more: the three others must go, least recently used first.
      await reader(small, { key: 'game:bounded-big' }).read({ text: 'x'.repeat(80) });
      expect(small.near.size).toBe(1);
      expect(small.near.get({ key: 'game:bounded-big' })).toBeDefined();
      await reader(small, { key: 'game:too-big' }).read({ text: 'x'.repeat(200) });
      expect(small.near.get({ key: 'game:too-big' })).toBeUndefined();
    } finally {
      await stopProcess(small);
    }
  });

  it('keeps no stale entry under interleaved changes from two processes (many readers)', async () => {
    const games = Array.from({ length: 8 }, (_, n) => `game:near-probe-${n}`);
    const truth = new Map(games.map((g) => [g, 0]));
    const settledAt = new Map<string, number>();
    const stale: string[] = [];
    let reads = 0;
    const until = performance.now() + 3_000;

    const load = (key: string) => async () => ({ version: truth.get(key)! });
    const readers = [a, b].flatMap((p) =>
      Array.from({ length: 8 }, async (_, lane) => {
        for (let n = lane; performance.now() < until; n += 1) {
          const key = games[n % games.length]!;
          const startedAt = performance.now();
          const expected = truth.get(key)!;
          const settled = settledAt.get(`${key}@${expected}`);
          const json = await p.cache.getOrLoadJson({ key }, 60, load(key));
          reads += 1;
          const { version } = JSON.parse(json) as { version: number };
          // Stale: an older version, read after the newer one's invalidation had reached every process.
          if (version < expected && settled !== undefined && startedAt > settled)
            stale.push(`${key}: ${version} < ${expected}`);
          // A hit answers without I/O: let the writers and the feeds run, as a server's event loop would.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }),
    );
    const writers = [a, b].map(async (p, lane) => {
      for (let n = lane; performance.now() < until - 200; n += 2) {
        const key = games[n % games.length]!;
        const version = truth.get(key)! + 1;
        truth.set(key, version);
        await p.cache.invalidate({ keys: [key] });
        const sequence = Number(await raw.get(`${prefix}cache:invalidation-sequence`));
        // Settled once both processes heard a sequence at least as late as this invalidation's.
        void (async () => {
          while (![a, b].every((q) => (q.feed.heardSequence ?? 0) >= sequence))
            await new Promise((resolve) => setImmediate(resolve));
          settledAt.set(`${key}@${version}`, performance.now());
        })();
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    });
    await Promise.all([...readers, ...writers]);

    console.info(
      `near-cache probe: ${reads} reads, ${[a, b].map((p) => p.near.stats().hits).join(' + ')} near hits, ` +
        `${settledAt.size} changes`,
    );
    expect(stale).toEqual([]);
    expect(settledAt.size).toBeGreaterThan(50);
    expect(a.near.stats().hits + b.near.stats().hits).toBeGreaterThan(reads / 4);
  });
});
