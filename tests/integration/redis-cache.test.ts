import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CacheRef } from '../../src/ports/cache.js';
import { createRedisClient } from '../../src/adapters/redis/redis-client.js';
import { RedisGuard } from '../../src/adapters/redis/redis-guard.js';
import { RedisCache } from '../../src/adapters/redis/redis-cache.js';
import { redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { deferred } from '../support/deferred.js';
import { waitFor } from '../support/wait-for.js';
import { RedisProcess } from '../support/redis-process.js';

describe('RedisCache', () => {
  const prefix = uniqueRedisPrefix();
  let redis: Redis;
  let raw: Redis;
  let cache: RedisCache;
  let guard: RedisGuard;

  beforeAll(async () => {
    redis = createRedisClient(redisUrl(), { keyPrefix: prefix });
    raw = new Redis(redisUrl());
    await waitFor(async () => (redis.status === 'ready' ? true : undefined), 'redis');
    // A generous bound: 1,200 reads fired at once on a busy machine are a test of chunking, not of the guard.
    guard = new RedisGuard({ callTimeoutMs: 2_000 });
    cache = new RedisCache(redis, { guard });
  });

  afterAll(async () => {
    cache.shutdown();
    guard.shutdown();
    const leftovers = await raw.keys(`${prefix}*`);
    if (leftovers.length > 0) await raw.del(...leftovers);
    redis.disconnect();
    raw.disconnect();
  });

  it('loads on a miss, answers the cached value on a hit, and keeps the key names of the spec', async () => {
    let loads = 0;
    const load = async () => ({ id: 'g1', priceCents: 1020, loads: ++loads });

    const first = await cache.getOrLoad({ key: 'game:g1' }, 60, load);
    const second = await cache.getOrLoad({ key: 'game:g1' }, 60, load);

    expect(first).toEqual({ id: 'g1', priceCents: 1020, loads: 1 });
    expect(second).toEqual(first);
    expect(loads).toBe(1);
    expect(JSON.parse((await raw.hget(`${prefix}game:g1`, 'd')) ?? 'null')).toEqual(first);
    expect(cache.hits).toBeGreaterThanOrEqual(1);
    expect(cache.misses).toBeGreaterThanOrEqual(1);
  });

  it('sets the TTL with up to 10 % jitter', async () => {
    await cache.getOrLoad({ key: 'taxonomy:genres' }, 100, async () => ['rpg']);
    await cache.getOrLoad({ family: 'catalog', member: 'ttl' }, 100, async () => ['rpg']);
    const generation = await raw.get(`${prefix}catalog:generation`);

    for (const key of [`${prefix}taxonomy:genres`, `${prefix}catalog:${generation}:ttl`]) {
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(99_000);
      expect(ttl).toBeLessThanOrEqual(110_000);
    }
  });

  it('does not cache undefined', async () => {
    expect(await cache.getOrLoad({ key: 'order:none' }, 60, async () => undefined)).toBeUndefined();
    expect(await raw.hexists(`${prefix}order:none`, 'd')).toBe(0);
  });

  it('reloads invalidated keys, leaving the others cached', async () => {
    await cache.getOrLoad({ key: 'game:a' }, 60, async () => 'a1');
    await cache.getOrLoad({ key: 'game:b' }, 60, async () => 'b1');

    await cache.invalidate({ keys: ['game:a', 'game:never-cached'] });

    expect(await cache.getOrLoad({ key: 'game:a' }, 60, async () => 'a2')).toBe('a2');
    expect(await cache.getOrLoad({ key: 'game:b' }, 60, async () => 'b2')).toBe('b1');
  });

  it('invalidates a family by moving to a new generation', async () => {
    await cache.getOrLoad({ family: 'catalog', member: 'q1' }, 60, async () => 'catalog q1 v1');
    await cache.getOrLoad({ family: 'home', member: '' }, 60, async () => 'home v1');
    const catalogBefore = Number(await raw.get(`${prefix}catalog:generation`));
    const homeBefore = Number(await raw.get(`${prefix}home:generation`));
    expect(await raw.exists(`${prefix}catalog:${catalogBefore}:q1`, `${prefix}home:${homeBefore}`)).toBe(2);

    await cache.invalidate({ families: ['catalog', 'home'] });

    expect(Number(await raw.get(`${prefix}catalog:generation`))).toBe(catalogBefore + 1);
    expect(await cache.getOrLoad({ family: 'catalog', member: 'q1' }, 60, async () => 'catalog q1 v2')).toBe(
      'catalog q1 v2',
    );
    expect(await cache.getOrLoad({ family: 'home', member: 'ignored' }, 60, async () => 'home v2')).toBe(
      'home v2',
    );
    expect(await raw.exists(`${prefix}home:${homeBefore + 1}`)).toBe(1);
  });

  it('never reuses a generation whose counter was lost', async () => {
    await cache.getOrLoad({ family: 'catalog', member: 'lost' }, 60, async () => 'before');
    const before = Number(await raw.get(`${prefix}catalog:generation`));

    await raw.del(`${prefix}catalog:generation`);

    expect(await cache.getOrLoad({ family: 'catalog', member: 'lost' }, 60, async () => 'after')).toBe(
      'after',
    );
    expect(Number(await raw.get(`${prefix}catalog:generation`))).toBeGreaterThan(before);
  });

  it('invalidates large batches in chunks', async () => {
    const keys = Array.from({ length: 1_200 }, (_, index) => `game:bulk-${index}`);
    await Promise.all(keys.map((key) => cache.getOrLoad({ key }, 60, async () => 'v1')));

    await cache.invalidate({ keys, families: ['home'] });

    expect(await raw.exists(...keys.map((key) => `${prefix}${key}`))).toBe(0);
  });

  const races: [string, CacheRef, Parameters<RedisCache['invalidate']>[0]][] = [
    ['a plain key', { key: 'game:race' }, { keys: ['game:race'] }],
    ['a family member', { family: 'catalog', member: 'race' }, { families: ['catalog'] }],
  ];
  it.each(races)(
    'never stores a value loaded before an invalidation of %s',
    async (_name, ref, invalidation) => {
      await cache.getOrLoad(ref, 60, async () => 'v0');
      await cache.invalidate(invalidation);
      const rejectionsBefore = cache.fillRejections;
      const loadStarted = deferred();
      const release = deferred();

      const slowRead = cache.getOrLoad(ref, 60, async () => {
        loadStarted.resolve();
        await release.promise;
        return 'old';
      });
      await loadStarted.promise;
      await cache.invalidate(invalidation);
      release.resolve();

      expect(await slowRead).toBe('old');
      expect(cache.fillRejections).toBe(rejectionsBefore + 1);
      expect(await cache.getOrLoad(ref, 60, async () => 'new')).toBe('new');
      expect(await cache.getOrLoad(ref, 60, async () => 'unexpected')).toBe('new');
    },
  );

  it('lets readers that missed together all fill when nothing was invalidated', async () => {
    const release = deferred();
    const reads = [1, 2, 3].map((reader) =>
      cache.getOrLoad({ key: 'game:together' }, 60, async () => {
        await release.promise;
        return `reader ${reader}`;
      }),
    );
    release.resolve();
    await Promise.all(reads);

    expect(await cache.getOrLoad({ key: 'game:together' }, 60, async () => 'unexpected')).toMatch(/^reader /);
  });

  describe('without Redis', () => {
    let downRedis: Redis;
    let downCache: RedisCache;

    beforeAll(() => {
      downRedis = createRedisClient('redis://127.0.0.1:1');
      downCache = new RedisCache(downRedis);
    });

    afterAll(() => {
      downCache.shutdown();
      downRedis.disconnect();
    });

    it('answers reads from load at once, rejects invalidations and reports down', async () => {
      const timings: number[] = [];
      for (let read = 0; read < 20; read += 1) {
        const started = performance.now();
        expect(await downCache.getOrLoad({ key: 'game:1' }, 60, async () => 'from postgres')).toBe(
          'from postgres',
        );
        timings.push(performance.now() - started);
      }
      console.info(`getOrLoad with Redis down: max ${Math.max(...timings).toFixed(2)} ms over 20 reads`);

      await expect(downCache.invalidate({ keys: ['game:1'] })).rejects.toThrow();
      expect(await downCache.health()).toBe('down');
      expect(downCache.failures).toBeGreaterThanOrEqual(20);
    });

    it('propagates the error of load itself', async () => {
      await expect(
        downCache.getOrLoad({ key: 'game:1' }, 60, async () => {
          throw new Error('postgres failed');
        }),
      ).rejects.toThrow('postgres failed');
    });
  });

  describe('when Redis goes away and comes back', () => {
    let server: RedisProcess;
    let client: Redis;
    let flakyCache: RedisCache;

    beforeAll(async () => {
      server = await RedisProcess.onFreePort();
      await server.start();
      client = createRedisClient(`redis://127.0.0.1:${server.port}`);
      flakyCache = new RedisCache(client, { breaker: { resetTimeoutMs: 200 } });
      await waitFor(async () => (client.status === 'ready' ? true : undefined), 'client ready');
    });

    afterEach(async () => {
      server.thaw();
      if (!server.running) await server.start();
    });

    afterAll(async () => {
      flakyCache.shutdown();
      client.disconnect();
      await server.stop();
    });

    it('answers from load while Redis hangs, and opens the breaker', async () => {
      await flakyCache.getOrLoad({ key: 'game:hung' }, 60, async () => 'cached');
      server.freeze();
      try {
        const timings: number[] = [];
        for (let read = 0; read < 10; read += 1) {
          const started = performance.now();
          expect(await flakyCache.getOrLoad({ key: 'game:hung' }, 60, async () => 'from postgres')).toBe(
            'from postgres',
          );
          timings.push(Math.round(performance.now() - started));
        }
        console.info(`getOrLoad with Redis hung, ms per read: ${timings.join(' ')}`);
        await expect(flakyCache.invalidate({ keys: ['game:hung'] })).rejects.toThrow();
        expect(await flakyCache.health()).toBe('down');
      } finally {
        server.thaw();
      }
      await waitFor(
        () => flakyCache.invalidate({ keys: ['game:hung'] }).then(() => true),
        'Redis to answer again',
      );
    });

    it('falls back while it is down and uses the cache again once it returns', async () => {
      await flakyCache.getOrLoad({ key: 'game:1' }, 60, async () => 'v1');
      expect(await flakyCache.health()).toBe('ok');

      await server.stop();
      await waitFor(
        () =>
          flakyCache.invalidate({ keys: ['game:1'] }).then(
            () => undefined,
            () => true,
          ),
        'invalidation to fail',
      );
      for (let read = 0; read < 5; read += 1) {
        expect(await flakyCache.getOrLoad({ key: 'game:1' }, 60, async () => 'from postgres')).toBe(
          'from postgres',
        );
      }
      expect(await flakyCache.health()).toBe('down');

      await server.start();
      await waitFor(
        () => flakyCache.invalidate({ keys: ['game:1'] }).then(() => true),
        'invalidation to succeed',
      );
      expect(await flakyCache.health()).toBe('ok');
      expect(await flakyCache.getOrLoad({ key: 'game:1' }, 60, async () => 'v2')).toBe('v2');
      const hitsBefore = flakyCache.hits;
      expect(await flakyCache.getOrLoad({ key: 'game:1' }, 60, async () => 'unexpected')).toBe('v2');
      expect(flakyCache.hits).toBe(hitsBefore + 1);
    });
  });
});
