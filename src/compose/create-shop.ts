import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type PgBoss from 'pg-boss';
import { sql } from 'kysely';
import { buildApp } from '../adapters/http/app.js';
import type { RedisGuard } from '../adapters/redis/redis-guard.js';
import { createAttemptLimiter } from '../adapters/postgres/attempt-limiter.js';
import { createRateLimitStore } from '../adapters/redis/rate-limit-store.js';
import { PgBossOutboxMonitor } from '../adapters/jobs/outbox-monitor.js';
import { startWorkers } from '../adapters/jobs/start-workers.js';
import type { Db } from '../adapters/postgres/db.js';
import { GUEST_SESSION_TTL_MS } from '../application/start-guest-session.js';
import type { Config } from '../config.js';
import type { Cache } from '../ports/cache.js';
import type { PasswordHasher } from '../ports/password-hasher.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { cartsFeature } from './carts.js';
import { catalogFeature } from './catalog.js';
import { identityFeature } from './identity.js';
import { openInfrastructure, type Infrastructure, type InfrastructureOptions } from './infrastructure.js';
import { fulfilmentFeature } from './fulfilment.js';
import { ordersFeature } from './orders.js';

export type ShopOptions = InfrastructureOptions;

/** The use cases every role wires; the HTTP adapter calls them. */
export type ShopUseCases = ReturnType<typeof wireFeatures>['useCases'];

export interface Shop {
  app?: FastifyInstance;
  db: Db;
  boss: PgBoss;
  cache: Cache;
  redis?: Redis;
  /** The one breaker of this process's Redis calls (absent without Redis). */
  redisGuard?: RedisGuard;
  /** The near cache in front of Redis and its invalidation feed (API processes with Redis). */
  near?: Infrastructure['near'];
  uow: UnitOfWork;
  passwordHasher: PasswordHasher;
  useCases: ShopUseCases;
  close(): Promise<void>;
}

function wireFeatures(infra: Awaited<ReturnType<typeof openInfrastructure>>) {
  const carts = cartsFeature(infra);
  const catalog = catalogFeature(infra);
  const identity = identityFeature(infra, { mergeGuestLoggingTo: carts.mergeGuestLoggingTo });
  const orders = ordersFeature(infra);
  const fulfilment = fulfilmentFeature(infra);
  return {
    carts,
    catalog,
    identity,
    orders,
    fulfilment,
    useCases: {
      ...identity.useCases,
      ...carts.useCases,
      ...catalog.useCases,
      ...orders.useCases,
      ...fulfilment.useCases,
    },
  };
}

/**
 * The composition root: opens the infrastructure, wires the features, then serves HTTP (roles `all` and
 * `api`) and works jobs (roles `all` and `worker`).
 */
export async function createShop(config: Config, options: ShopOptions): Promise<Shop> {
  const infra = await openInfrastructure(config, options);
  try {
    const features = wireFeatures(infra);

    if (infra.runsWorkers) {
      await startWorkers({
        boss: infra.boss,
        redisAvailability: infra.redisGuard,
        createQueue: infra.createQueue,
        outbox: infra.outbox,
        delivery: {
          cache: infra.cache,
          mailer: infra.mailer,
          logger: infra.logger,
          fulfilOrderUnit: features.fulfilment.fulfilOrderUnit,
        },
        wakeups: infra.wakeups,
        logger: infra.logger,
        schedules: config.syncSchedules,
        runSync: features.catalog.runSync,
        triggerSync: features.catalog.triggerSync,
        onSyncRunEnded: (kind, outcome, seconds) =>
          infra.metrics.syncRuns.observe({ kind, outcome }, seconds),
        deleteExpiredGuestSessions: features.carts.deleteExpiredGuestSessions,
        purgeIdempotencyKeys: features.orders.purgeIdempotencyKeys,
        reconcileFulfilment: features.fulfilment.reconcileFulfilment,
      });
      if (config.syncSchedules) await features.catalog.fillEmptyCatalog();
    }

    let app: FastifyInstance | undefined;
    if (infra.role !== 'worker') {
      await features.identity.passwordHasher.matchStoredCost(
        await infra.readers.users.mostCommonPasswordCost(),
      );
      app = await buildApp({
        logger: options.logger,
        useCases: features.useCases,
        outbox: new PgBossOutboxMonitor(infra.boss, infra.outbox),
        guestSessions: infra.readers.guestSessions,
        users: infra.readers.users,
        guestSessionTtlMs: GUEST_SESSION_TTL_MS,
        clock: infra.clock,
        metrics: infra.metrics.registry,
        attemptLimits: {
          passwordWork: createAttemptLimiter({
            name: 'auth-ip',
            points: config.authRateLimitPerIp,
            windowSeconds: 60,
            pool: infra.pool,
            logger: infra.logger,
          }),
          signIns: createAttemptLimiter({
            name: 'sign-in',
            points: config.loginRateLimit,
            windowSeconds: 15 * 60,
            pool: infra.pool,
            logger: infra.logger,
          }),
          guestSessions: createAttemptLimiter({
            name: 'guest-session-ip',
            points: config.guestSessionRateLimitPerIp,
            windowSeconds: 60,
            pool: infra.pool,
            logger: infra.logger,
          }),
        },
        rateLimitStore: createRateLimitStore({
          redis: infra.redis,
          guard: infra.redisGuard,
          pool: infra.pool,
          logger: infra.logger,
        }),
        health: {
          postgres: async () => (await sql`SELECT 1`.execute(infra.db), true),
          redis: () => infra.cache.health(),
          queue: async () => (await infra.boss.getQueue(infra.outbox['cache.invalidate'].queue)) !== null,
        },
        config,
      });
      const server = app;
      infra.shutdown.onStopRequests(() => server.close());
    }

    return {
      app,
      db: infra.db,
      boss: infra.boss,
      cache: infra.cache,
      redis: infra.redis,
      redisGuard: infra.redisGuard,
      near: infra.near,
      uow: infra.uow,
      passwordHasher: features.identity.passwordHasher,
      useCases: features.useCases,
      close: () => infra.shutdown.run(),
    };
  } catch (error) {
    await infra.shutdown.run();
    throw error;
  }
}
