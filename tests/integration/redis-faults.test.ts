import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/adapters/redis/redis-client.js';
import { RedisGuard, type RedisGuardState } from '../../src/adapters/redis/redis-guard.js';
import { insertGame, updateGame } from '../support/games.js';
import { api } from '../support/http.js';
import { RedisProcess } from '../support/redis-process.js';
import { freePort } from '../support/free-port.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

// Redis faults injected into real processes: a redis-server of the test's own, frozen with SIGSTOP and thawed,
// and a shop whose REDIS_URL leads nowhere beside a healthy one on the same database.

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redisProcess(): Promise<RedisProcess> {
  const redis = await RedisProcess.onFreePort();
  await redis.start();
  cleanups.push(() => redis.stop());
  return redis;
}

async function shop(options: Parameters<typeof startTestShop>[0]): Promise<TestShop> {
  const started = await startTestShop(options);
  cleanups.push(() => started.dispose());
  return started;
}

const priceOf = async (s: TestShop, id: string) =>
  (await s.app!.inject({ method: 'GET', url: api(`/games/${id}`) })).json<{ priceCents: number }>()
    .priceCents;

describe('the Redis guard', () => {
  it('opens after three calls to a frozen Redis, refuses at once while open, and closes by itself when Redis answers', async () => {
    const redis = await redisProcess();
    const client = createRedisClient(redis.url);
    cleanups.push(async () => client.disconnect());
    await waitFor(async () => client.status === 'ready', 'client ready');
    const states: RedisGuardState[] = [];
    const guard = new RedisGuard({ resetTimeoutMs: 300, probe: () => client.ping() });
    cleanups.push(async () => guard.shutdown());
    guard.onChange((state) => states.push(state));
    expect(await guard.run(() => client.ping())).toBe('PONG');

    redis.freeze();
    for (let call = 0; call < 3; call++) {
      const failure = await guard.run(() => client.ping()).catch((error: { code?: string }) => error);
      expect(failure).toMatchObject({ code: 'ETIMEDOUT' });
    }
    expect(guard.state).toBe('open');
    const refused = await guard.run(() => client.ping()).catch((error: { code?: string }) => error);
    expect(refused).toMatchObject({ code: 'EOPENBREAKER' });

    redis.thaw();
    // No call of the test's: the guard's own probe finds Redis back.
    await waitFor(async () => guard.state === 'closed', 'the guard closed by its probe');
    expect(states).toEqual(expect.arrayContaining(['open', 'halfOpen', 'closed']));
  });
});

describe('a shop whose Redis freezes', () => {
  it('answers reads and sign-ins without Redis once its guard is open, and reads no price older than one committed after it thaws', async () => {
    const redis = await redisProcess();
    const s = await shop({ env: { REDIS_URL: redis.url } });
    const gameId = await insertGame(s.db, { priceCents: 1000, qty: 50 });
    expect(await priceOf(s, gameId)).toBe(1000);
    expect(await priceOf(s, gameId)).toBe(1000); // cached now
    const registered = await s.app!.inject({
      method: 'POST',
      url: api('/auth/register'),
      payload: { email: 'frozen@example.com', password: 'long enough' },
    });
    expect(registered.statusCode).toBe(201);

    redis.freeze();
    // A committed price change whose invalidation cannot reach the frozen Redis.
    await updateGame(s.db, gameId, { priceCents: 2000 });
    await s.uow.run((scope) => scope.outbox.invalidate({ keys: [`game:${gameId}`] }));
    for (let read = 0; read < 5; read++) expect(await priceOf(s, gameId)).toBe(2000);
    expect(s.redisGuard!.state).toBe('open');
    const login = await s.app!.inject({
      method: 'POST',
      url: api('/auth/login'),
      payload: { email: 'frozen@example.com', password: 'long enough' },
    });
    expect(login.statusCode).toBe(200);

    redis.thaw();
    // Every read from the moment Redis answers again: the old entry (1000) is still in Redis until its
    // invalidation is applied, and must never be served.
    const seen = new Set<number>();
    const until = Date.now() + 4_000;
    while (Date.now() < until) seen.add(await priceOf(s, gameId));
    expect([...seen]).toEqual([2000]);
    await waitFor(async () => s.redisGuard!.state === 'closed', 'the guard closed');
    const entry = await s.redis!.hget(`game:${gameId}`, 'd');
    expect(entry === null || !entry.includes('"priceCents":1000')).toBe(true);
  });
});

describe('a process cut off from Redis beside a healthy one', () => {
  it('leaves the cache invalidations to the process that reaches Redis: delivered at the first attempt', async () => {
    const healthy = await shop({});
    const cutOff = await shop({
      databaseUrl: healthy.databaseUrl,
      env: {
        REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
        REDIS_KEY_PREFIX: healthy.config.redisKeyPrefix,
      },
    });
    // The cut-off process learns that Redis does not answer (its guard opens) and pauses its cache worker.
    const gameIds = await Promise.all(
      [0, 1, 2, 3, 4].map((n) => insertGame(healthy.db, { priceCents: 100 + n })),
    );
    for (const id of gameIds) await priceOf(cutOff, id);
    await waitFor(async () => cutOff.redisGuard!.isOpen || undefined, 'the cut-off guard opened');

    for (const id of gameIds) expect(await priceOf(healthy, id)).toBeGreaterThan(0);
    for (const id of gameIds) {
      await updateGame(healthy.db, id, { priceCents: 5000 });
      // Committed through the cut-off process: its own after-commit deletion fails; the outbox must not wait.
      await cutOff.uow.run((scope) => scope.outbox.invalidate({ keys: [`game:${id}`] }));
    }
    await waitFor(async () => {
      const prices = await Promise.all(gameIds.map((id) => priceOf(healthy, id)));
      return prices.every((price) => price === 5000) || undefined;
    }, 'every change seen through the healthy process');
    const jobs = () =>
      sql<{ retries: number; state: string }>`
        SELECT retry_count AS retries, state FROM pgboss.job
        WHERE name = 'outbox-cache' AND data->'keys' ?| ${gameIds.map((id) => `game:${id}`)}::text[]`.execute(
        healthy.db,
      );
    await waitFor(
      async () => (await jobs()).rows.every((row) => row.state === 'completed') || undefined,
      'every invalidation delivered',
    );
    const { rows } = await jobs();
    expect(rows, JSON.stringify(rows)).toHaveLength(gameIds.length);
    expect(rows.map((row) => row.state)).toEqual(gameIds.map(() => 'completed'));
    expect(rows.map((row) => row.retries)).toEqual(gameIds.map(() => 0));
  });
});
