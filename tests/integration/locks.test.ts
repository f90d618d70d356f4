import { Redis } from 'ioredis';
import type pg from 'pg';
import Redlock from 'redlock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockBusyError } from '../../src/ports/lock.js';
import { PostgresAdvisoryLock } from '../../src/adapters/postgres/advisory-lock.js';
import { FallbackLock } from '../../src/adapters/redis/fallback-lock.js';
import { createRedisClient } from '../../src/adapters/redis/redis-client.js';
import { RedlockLock } from '../../src/adapters/redis/redlock-lock.js';
import { createTestDatabase, redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { deferred } from '../support/deferred.js';
import { waitFor } from '../support/wait-for.js';
import { createPool } from '../../src/adapters/postgres/db.js';

/** Runs `withLock` and answers once the task is inside, with a way to let it finish. */
async function holdLock(lock: { withLock: RedlockLock['withLock'] }, resource: string) {
  const inside = deferred<AbortSignal>();
  const finish = deferred();
  const done = lock.withLock(resource, async (signal) => {
    inside.resolve(signal);
    await finish.promise;
    return 'done';
  });
  done.catch(() => {});
  const signal = await Promise.race([
    inside.promise,
    done.then(() => Promise.reject(new Error('task skipped'))),
  ]);
  return {
    signal,
    release: async () => {
      finish.resolve();
      return done;
    },
  };
}

describe('locks', () => {
  const prefix = uniqueRedisPrefix();
  let redis: Redis;
  let raw: Redis;
  let database: { url: string; drop: () => Promise<void> };
  let poolA: pg.Pool;
  let poolB: pg.Pool;

  beforeAll(async () => {
    redis = createRedisClient(redisUrl(), { keyPrefix: prefix });
    raw = new Redis(redisUrl());
    database = await createTestDatabase();
    poolA = createPool(database.url, { max: 3 });
    poolB = createPool(database.url, { max: 3 });
    await waitFor(async () => (redis.status === 'ready' ? true : undefined), 'redis');
  });

  afterAll(async () => {
    const leftovers = await raw.keys(`${prefix}*`);
    if (leftovers.length > 0) await raw.del(...leftovers);
    redis.disconnect();
    raw.disconnect();
    await poolA.end();
    await poolB.end();
    await database.drop();
  });

  describe('RedlockLock', () => {
    it('excludes a second holder at once and frees the lock after the task', async () => {
      const lock = new RedlockLock(redis);
      const holder = await holdLock(lock, 'g2a:sync:lock');
      expect(await raw.exists(`${prefix}g2a:sync:lock`)).toBe(1);

      await expect(lock.withLock('g2a:sync:lock', async () => 'second')).rejects.toBeInstanceOf(
        LockBusyError,
      );

      expect(await holder.release()).toBe('done');
      expect(await raw.exists(`${prefix}g2a:sync:lock`)).toBe(0);
      expect(await lock.withLock('g2a:sync:lock', async () => 'third')).toBe('third');
    });

    it('releases the lock when the task throws, and rethrows the task error', async () => {
      const lock = new RedlockLock(redis);
      await expect(
        lock.withLock('failing-task', async () => {
          throw new Error('task failed');
        }),
      ).rejects.toThrow('task failed');
      expect(await raw.exists(`${prefix}failing-task`)).toBe(0);
    });

    it('extends the lease while the task runs', async () => {
      const lock = new RedlockLock(redis, { leaseMs: 400, extendAheadMs: 200 });
      const holder = await holdLock(lock, 'long-task');
      let lastTtl = await raw.pttl(`${prefix}long-task`);
      let extensions = 0;
      await waitFor(async () => {
        const ttl = await raw.pttl(`${prefix}long-task`);
        if (ttl > lastTtl) extensions += 1;
        lastTtl = ttl;
        return extensions >= 3 ? true : undefined;
      }, 'three extensions');

      expect(holder.signal.aborted).toBe(false);
      expect(await holder.release()).toBe('done');
    });

    it('expires when its holder stops extending it', async () => {
      const deadHolder = new Redlock([new Redis(redisUrl(), { keyPrefix: prefix })], { retryCount: 0 });
      await deadHolder.acquire(['dead-holder'], 300);
      const lock = new RedlockLock(redis);

      await expect(lock.withLock('dead-holder', async () => 'early')).rejects.toBeInstanceOf(LockBusyError);
      const result = await waitFor(
        () => lock.withLock('dead-holder', async () => 'after expiry'),
        'the abandoned lease to expire',
      );

      expect(result).toBe('after expiry');
      await deadHolder.quit();
    });

    it('aborts the signal when the lease is lost', async () => {
      const lock = new RedlockLock(redis, { leaseMs: 400, extendAheadMs: 200 });
      const holder = await holdLock(lock, 'stolen');

      await raw.set(`${prefix}stolen`, 'someone else', 'PX', 10_000);
      await waitFor(async () => (holder.signal.aborted ? true : undefined), 'the signal to abort');

      expect(await holder.release()).toBe('done');
      expect(await raw.get(`${prefix}stolen`)).toBe('someone else');
    });
  });

  describe('PostgresAdvisoryLock', () => {
    it('excludes a holder on another pool, and frees the lock after the task', async () => {
      const lockA = new PostgresAdvisoryLock(poolA);
      const lockB = new PostgresAdvisoryLock(poolB);
      const holder = await holdLock(lockA, 'g2a:sync:lock');

      await expect(lockB.withLock('g2a:sync:lock', async () => 'second')).rejects.toBeInstanceOf(
        LockBusyError,
      );
      await expect(lockA.withLock('g2a:sync:lock', async () => 'same pool')).rejects.toBeInstanceOf(
        LockBusyError,
      );
      expect(await lockB.withLock('another resource', async () => 'other')).toBe('other');

      expect(await holder.release()).toBe('done');
      expect(await lockB.withLock('g2a:sync:lock', async () => 'third')).toBe('third');
      expect(poolA.idleCount + poolA.waitingCount).toBe(poolA.totalCount);
    });

    it('frees the lock when the holding session dies, and aborts the holder', async () => {
      const lockA = new PostgresAdvisoryLock(poolA, { heartbeatMs: 50 });
      const lockB = new PostgresAdvisoryLock(poolB);
      const holder = await holdLock(lockA, 'dying');

      await poolB.query(
        `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid::int = hashtext($1)`,
        ['dying'],
      );

      await waitFor(
        async () => (holder.signal.aborted ? true : undefined),
        'the holder to see its lock lost',
      );
      expect(await lockB.withLock('dying', async () => 'taken over')).toBe('taken over');
      expect(await holder.release()).toBe('done');
    });
  });

  describe('FallbackLock', () => {
    it('excludes through Postgres when Redis is down', async () => {
      const downRedis = createRedisClient('redis://127.0.0.1:1');
      const lockA = new FallbackLock({
        postgres: new PostgresAdvisoryLock(poolA),
        redis: new RedlockLock(downRedis),
      });
      const lockB = new FallbackLock({
        postgres: new PostgresAdvisoryLock(poolB),
        redis: new RedlockLock(downRedis),
      });
      const holder = await holdLock(lockA, 'fallback');

      await expect(lockB.withLock('fallback', async () => 'second')).rejects.toBeInstanceOf(LockBusyError);
      expect(await holder.release()).toBe('done');
      expect(await lockB.withLock('fallback', async () => 'third')).toBe('third');
      downRedis.disconnect();
    });

    it('excludes a process whose Redis is down from one that holds both locks', async () => {
      const downRedis = createRedisClient('redis://127.0.0.1:1');
      const withRedis = new FallbackLock({
        postgres: new PostgresAdvisoryLock(poolA),
        redis: new RedlockLock(redis),
      });
      const withoutRedis = new FallbackLock({
        postgres: new PostgresAdvisoryLock(poolB),
        redis: new RedlockLock(downRedis),
      });
      const holder = await holdLock(withRedis, 'split');
      expect(await raw.exists(`${prefix}split`)).toBe(1);

      await expect(withoutRedis.withLock('split', async () => 'second')).rejects.toBeInstanceOf(
        LockBusyError,
      );

      expect(await holder.release()).toBe('done');
      expect(await raw.exists(`${prefix}split`)).toBe(0);
      downRedis.disconnect();
    });

    it('ends the lease when its Redis lock is lost, though the Postgres lock is still held', async () => {
      const fallback = new FallbackLock({
        postgres: new PostgresAdvisoryLock(poolA),
        redis: new RedlockLock(redis, { leaseMs: 400, extendAheadMs: 200 }),
      });
      const lease = await fallback.acquire('lost-redis');
      expect(lease.signal.aborted).toBe(false);
      // Another holder's value in its place: the extension finds the lock is no longer this one's.
      await raw.set(`${prefix}lost-redis`, 'someone else', 'PX', 10_000);
      await waitFor(async () => lease.signal.aborted || undefined, 'the lease to end');
      await lease.release();
      await raw.del(`${prefix}lost-redis`);
    });

    it('is busy when only the Redis lock is held, and gives the Postgres lock back', async () => {
      const redisOnly = new RedlockLock(redis);
      const fallback = new FallbackLock({
        postgres: new PostgresAdvisoryLock(poolA),
        redis: new RedlockLock(redis),
      });
      const holder = await holdLock(redisOnly, 'redis-held');

      await expect(fallback.withLock('redis-held', async () => 'second')).rejects.toBeInstanceOf(
        LockBusyError,
      );
      expect(await new PostgresAdvisoryLock(poolB).withLock('redis-held', async () => 'free')).toBe('free');
      await holder.release();
    });
  });
});
