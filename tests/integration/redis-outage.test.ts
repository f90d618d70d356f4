import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outboxJobs } from '../support/outbox.js';
import { RedisProcess } from '../support/redis-process.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

let redis: RedisProcess;
let shop: TestShop;

beforeAll(async () => {
  redis = await RedisProcess.onFreePort();
  await redis.start();
  shop = await startTestShop({
    env: { REDIS_URL: redis.url, OUTBOX_MAX_ATTEMPTS: '3' },
  });
});
afterAll(async () => {
  redis.thaw();
  await shop?.dispose();
  await redis.stop();
});

const api = (path: string) => `/api/v1${path}`;
const latestInvalidation = async () => (await outboxJobs(shop.db, 'cache.invalidate')).at(-1);

describe('Redis outages', () => {
  it('keeps invalidations pending while Redis hangs and drains them when it answers again', async () => {
    const ref = { key: 'game:outage' };
    expect(await shop.cache.getOrLoad(ref, 60, async () => 'old price')).toBe('old price');
    expect(await shop.cache.getOrLoad(ref, 60, async () => 'never loaded')).toBe('old price');

    redis.freeze();
    const started = performance.now();
    await shop.uow.run((scope) => scope.outbox.invalidate({ keys: ['game:outage'] }));
    console.info(`commit with Redis hung: ${(performance.now() - started).toFixed(1)} ms`);

    const stuck = await waitFor(async () => {
      const job = await latestInvalidation();
      return job && job.attempts >= 2 ? job : undefined;
    }, 'invalidation retried while Redis hangs');
    expect(['retry', 'active']).toContain(stuck.state);

    redis.thaw();
    await waitFor(
      async () => (await latestInvalidation())?.state === 'completed',
      'invalidation drained',
      20_000,
    );
    expect(await shop.cache.getOrLoad(ref, 60, async () => 'new price')).toBe('new price');
  });

  it('signs users up and in, refreshes and serves /me with Redis gone; /ready says degraded', async () => {
    await redis.stop();

    const ready = await shop.app!.inject({ method: 'GET', url: '/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'degraded',
      checks: { postgres: 'ok', redis: 'down', queue: 'ok' },
    });

    const timings: Record<string, number> = {};
    const timed = async <T>(name: string, call: () => Promise<T>) => {
      const started = performance.now();
      const result = await call();
      timings[name] = Math.round(performance.now() - started);
      return result;
    };

    const registered = await timed('register', () =>
      shop.app!.inject({
        method: 'POST',
        url: api('/auth/register'),
        payload: { email: 'calm@example.com', password: 'long enough' },
      }),
    );
    expect(registered.statusCode).toBe(201);
    const login = await timed('login', () =>
      shop.app!.inject({
        method: 'POST',
        url: api('/auth/login'),
        payload: { email: 'calm@example.com', password: 'long enough' },
      }),
    );
    expect(login.statusCode).toBe(200);
    const refresh = await timed('refresh', () =>
      shop.app!.inject({
        method: 'POST',
        url: api('/auth/refresh'),
        payload: { refreshToken: login.json().refreshToken },
      }),
    );
    expect(refresh.statusCode).toBe(200);
    const me = await timed('me', () =>
      shop.app!.inject({
        method: 'GET',
        url: api('/me'),
        headers: { authorization: `Bearer ${refresh.json().accessToken}` },
      }),
    );
    expect(me.statusCode).toBe(200);
    console.info(`with Redis down (ms): ${JSON.stringify(timings)}`);

    // Sign-in attempts are counted in PostgreSQL, Redis or not.
    const limits = await shop.db.selectFrom('rate_limit_points').select('key').execute();
    expect(limits.length).toBeGreaterThan(0);

    await redis.start();
    await waitFor(
      async () => {
        const response = await shop.app!.inject({ method: 'GET', url: '/ready' });
        return response.json().status === 'ok';
      },
      '/ready ok after Redis is back',
      15_000,
    );
  });
});
