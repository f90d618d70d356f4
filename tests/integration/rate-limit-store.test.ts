import rateLimit, { type FastifyRateLimitStore, type FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimitStore } from '../../src/adapters/redis/rate-limit-store.js';
import { createRedisClient } from '../../src/adapters/redis/redis-client.js';
import { createTestDatabase, redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';
import { createPool } from '../../src/adapters/postgres/db.js';

interface Count {
  current: number;
  ttl: number;
}

type Incr = (store: FastifyRateLimitStore, key: string, timeWindow: number, max?: number) => Promise<Count>;

// The plugin passes the window and the limit after the callback; the published type leaves them out.
const incr: Incr = (store, key, timeWindow, max = 1_000) =>
  new Promise((resolve, reject) => {
    const call = store.incr as (
      key: string,
      callback: (error: Error | null, result?: Count) => void,
      timeWindow: number,
      max: number,
    ) => void;
    call.call(
      store,
      key,
      (error, result) => (error || !result ? reject(error) : resolve(result)),
      timeWindow,
      max,
    );
  });

describe('rate limit store', () => {
  const prefix = uniqueRedisPrefix();
  let database: { url: string; drop: () => Promise<void> };
  let pool: pg.Pool;
  let redis: Redis;
  let downRedis: Redis;
  let raw: Redis;

  beforeAll(async () => {
    database = await createTestDatabase();
    pool = createPool(database.url, { max: 10 });
    await pool.query(
      'CREATE TABLE IF NOT EXISTS rate_limit_hits (key text PRIMARY KEY, hits integer NOT NULL, reset_at timestamptz NOT NULL)',
    );
    redis = createRedisClient(redisUrl(), { keyPrefix: prefix });
    downRedis = createRedisClient('redis://127.0.0.1:1');
    raw = new Redis(redisUrl());
    await waitFor(async () => (redis.status === 'ready' ? true : undefined), 'redis');
  });

  afterAll(async () => {
    const leftovers = await raw.keys(`${prefix}*`);
    if (leftovers.length > 0) await raw.del(...leftovers);
    redis.disconnect();
    downRedis.disconnect();
    raw.disconnect();
    await pool.end();
    await database.drop();
  });

  async function postgresHits(key: string): Promise<number | undefined> {
    const { rows } = await pool.query<{ hits: number }>('SELECT hits FROM rate_limit_hits WHERE key = $1', [
      key,
    ]);
    return rows[0]?.hits;
  }

  const backends: [string, () => FastifyRateLimitStoreCtor, (key: string) => Promise<number | undefined>][] =
    [
      [
        'Redis',
        () => createRateLimitStore({ redis, pool }),
        async (key) => Number((await raw.get(`${prefix}rate-limit:${key}`)) ?? NaN) || undefined,
      ],
      ['Postgres', () => createRateLimitStore({ pool }), postgresHits],
      ['Postgres when Redis is down', () => createRateLimitStore({ redis: downRedis, pool }), postgresHits],
    ];

  describe.each(backends)('through %s', (name, createStore, storedHits) => {
    const scope = name.replaceAll(' ', '-');

    it('counts hits within the window and reports the time left', async () => {
      const store = new (createStore())({});
      const key = `${scope}:counts`;

      const counts = [];
      for (let hit = 0; hit < 3; hit += 1) counts.push(await incr(store, key, 60_000));

      expect(counts.map((count) => count.current)).toEqual([1, 2, 3]);
      for (const { ttl } of counts) {
        expect(ttl).toBeGreaterThan(55_000);
        expect(ttl).toBeLessThanOrEqual(60_000);
      }
      expect(await storedHits(key)).toBe(3);
    });

    it('starts a new window once the old one is over', async () => {
      const store = new (createStore())({});
      const key = `${scope}:window`;
      await incr(store, key, 200);
      expect((await incr(store, key, 200)).current).toBe(2);

      await waitFor(
        async () => ((await incr(store, key, 200)).current === 1 ? true : undefined),
        'a new window',
      );
    });

    it('loses no hit among concurrent increments', async () => {
      const store = new (createStore())({});
      const key = `${scope}:concurrent`;

      const counts = await Promise.all(Array.from({ length: 50 }, () => incr(store, key, 60_000)));

      expect(counts.map((count) => count.current).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 50 }, (_, index) => index + 1),
      );
      expect(await storedHits(key)).toBe(50);
    });

    it('counts each route apart', async () => {
      const store = new (createStore())({});
      const login = store.child({ routeInfo: { method: 'POST', url: '/api/v1/auth/login' } } as never);
      const register = store.child({ routeInfo: { method: 'POST', url: '/api/v1/auth/register' } } as never);

      await incr(login, `${scope}:route`, 60_000);
      await incr(login, `${scope}:route`, 60_000);

      expect((await incr(register, `${scope}:route`, 60_000)).current).toBe(1);
      expect(await storedHits(`POST/api/v1/auth/login:${scope}:route`)).toBe(2);
    });

    it('restarts the window while over the limit with continueExceeding', async () => {
      const store = new (createStore())({ continueExceeding: true });
      const key = `${scope}:continue`;
      await incr(store, key, 300, 1);
      const started = Date.now();

      const over = await waitFor(async () => {
        const count = await incr(store, key, 300, 1);
        return Date.now() - started > 400 ? count : undefined;
      }, 'one window to pass');

      expect(over.current).toBeGreaterThan(2);
      expect(over.ttl).toBeGreaterThan(200);
    });
  });

  it('sweeps expired Postgres counters now and then', async () => {
    await pool.query(
      `INSERT INTO rate_limit_hits (key, hits, reset_at) VALUES ('stale', 3, now() - interval '1 hour')`,
    );
    const store = new (createRateLimitStore({ pool, pruneIntervalMs: 0 }))({});

    await incr(store, 'fresh', 60_000);

    await waitFor(async () => ((await postgresHits('stale')) === undefined ? true : undefined), 'the sweep');
    expect(await postgresHits('fresh')).toBe(1);
  });

  it('refuses exponential backoff, which it does not implement', () => {
    const Store = createRateLimitStore({ pool });
    expect(() => new Store({ exponentialBackoff: true })).toThrow(/exponentialBackoff/);
  });

  it.each([
    ['Redis', () => redis],
    ['Postgres', () => undefined],
  ])('limits a route through @fastify/rate-limit with %s', async (_name, redisOf) => {
    const app = Fastify();
    await app.register(rateLimit, {
      global: false,
      store: createRateLimitStore({ redis: redisOf(), pool }),
    });
    app.post('/login', { config: { rateLimit: { max: 2, timeWindow: 60_000 } } }, async () => ({ ok: true }));
    await app.ready();

    const statuses = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      statuses.push(
        (await app.inject({ method: 'POST', url: '/login', remoteAddress: '10.0.0.1' })).statusCode,
      );
    }
    await app.close();

    expect(statuses).toEqual([200, 200, 429]);
  });
});
