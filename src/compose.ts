import PgBoss from 'pg-boss';
import type { Logger as PinoLogger } from 'pino';
import type { Redis } from 'ioredis';
import { sql } from 'kysely';
import { createAdmin } from './application/create-admin.js';
import { getProfile } from './application/get-profile.js';
import { loginUser } from './application/login-user.js';
import { logoutUser } from './application/logout-user.js';
import { refreshSession } from './application/refresh-session.js';
import { registerUser } from './application/register-user.js';
import { GUEST_SESSION_TTL_MS, startGuestSession } from './application/start-guest-session.js';
import { verifyEmail } from './application/verify-email.js';
import { buildApp, type UseCases } from './adapters/http/app.js';
import { createMetricsRegistry } from './adapters/http/metrics.js';
import { createRateLimitStore } from './adapters/http/rate-limit-store.js';
import { outboxQueuePolicies, type OutboxQueuePolicies } from './adapters/jobs/outbox-queues.js';
import { createOutboxQueues, outboxHandlers, startOutboxWorkers } from './adapters/jobs/outbox-worker.js';
import { LogMailer } from './adapters/mailer/log-mailer.js';
import { SmtpMailer } from './adapters/mailer/smtp-mailer.js';
import { createDb, createPool, type Db } from './adapters/postgres/db.js';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './adapters/postgres/embedded-database.js';
import { KyselyOutboxMonitor } from './adapters/postgres/kysely-outbox.js';
import { createRepositories, KyselyUnitOfWork } from './adapters/postgres/kysely-unit-of-work.js';
import { migrateToLatest } from './adapters/postgres/migrate.js';
import { NoopCache } from './adapters/redis/noop-cache.js';
import { RedisCache } from './adapters/redis/redis-cache.js';
import { createRedisClient } from './adapters/redis/redis-client.js';
import { BcryptPasswordHasher } from './adapters/security/bcrypt-password-hasher.js';
import type { Config, Role } from './config.js';
import type { Cache } from './ports/cache.js';
import { systemClock, type Clock } from './ports/clock.js';
import type { Mailer } from './ports/mailer.js';
import type { PasswordHasher } from './ports/password-hasher.js';
import type { UnitOfWork } from './ports/unit-of-work.js';
import type { FastifyInstance } from 'fastify';

export interface ShopOptions {
  role?: Role;
  logger: PinoLogger;
  clock?: Clock;
  /** Replaces the mailer built from the config (tests inject failures through it). */
  mailer?: Mailer;
  /** Replaces outbox retry policies (tests use short delays). */
  outboxPolicies?: OutboxQueuePolicies;
  /** Folder for embedded PostgreSQL data when no DATABASE_URL is given. */
  dataDir?: string;
  embeddedPostgresPort?: number;
}

export interface Shop {
  app?: FastifyInstance;
  db: Db;
  boss: PgBoss;
  cache: Cache;
  redis?: Redis;
  uow: UnitOfWork;
  passwordHasher: PasswordHasher;
  useCases: UseCases & {
    createAdmin: (input: { email: string; password: string }) => ReturnType<typeof createAdmin>;
  };
  close(): Promise<void>;
}

/** The composition root: builds every adapter from the config and wires the use cases. */
export async function createShop(config: Config, options: ShopOptions): Promise<Shop> {
  const role = options.role ?? 'all';
  const logger = options.logger;
  const clock = options.clock ?? systemClock;
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const closer of closers.reverse()) {
      await closer().catch((error: Error) => logger.error({ err: error }, 'error during shutdown'));
    }
  };

  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded: EmbeddedDatabase = await startEmbeddedDatabase({
        dataDir: options.dataDir ?? '.data',
        port: options.embeddedPostgresPort ?? 54329,
        logger,
      });
      closers.push(() => embedded.stop());
      databaseUrl = embedded.url;
    }

    const pool = createPool(databaseUrl, { max: 10, applicationName: `keyshop-${role}` });
    const db = createDb(pool);
    closers.push(() => db.destroy());
    await migrateToLatest(db);

    let redis: Redis | undefined;
    let cache: Cache = new NoopCache();
    if (config.redisUrl) {
      redis = createRedisClient(config.redisUrl, { keyPrefix: config.redisKeyPrefix, logger });
      closers.push(() => redis!.quit().catch(() => redis!.disconnect()));
      const redisCache = new RedisCache(redis, { logger });
      closers.push(async () => redisCache.shutdown());
      cache = redisCache;
    } else {
      logger.warn('REDIS_URL is unset: running without a cache; locks and rate limits use PostgreSQL');
    }

    const policies =
      options.outboxPolicies ?? outboxQueuePolicies({ emailMaxAttempts: config.outboxMaxAttempts });
    const runsWorkers = role !== 'api';
    const boss = new PgBoss({
      connectionString: databaseUrl,
      schema: 'pgboss',
      max: 4,
      application_name: `keyshop-${role}-jobs`,
      supervise: runsWorkers,
      schedule: runsWorkers,
    });
    boss.on('error', (error) => logger.error({ err: error }, 'pg-boss error'));
    await boss.start();
    closers.push(() => boss.stop({ graceful: true, wait: true, timeout: 20_000 }));
    await createOutboxQueues(boss, policies);

    let mailer: Mailer = options.mailer ?? new LogMailer(logger);
    if (!options.mailer && config.smtpUrl) {
      const smtp = new SmtpMailer(config.smtpUrl, config.mailFrom);
      closers.push(async () => smtp.close());
      mailer = smtp;
    }

    let nudge = () => {};
    const uow = new KyselyUnitOfWork({ db, boss, policies, cache, logger, nudge: () => nudge() });
    if (runsWorkers) {
      const workers = await startOutboxWorkers({
        boss,
        db,
        policies,
        handlers: outboxHandlers({ cache, mailer }),
        logger,
      });
      nudge = workers.nudge;
    }

    const repositories = createRepositories(db);
    const passwordHasher = new BcryptPasswordHasher(config.bcryptCost);
    const tokens = { refreshTokenTtlDays: config.refreshTokenTtlDays };
    const useCases = {
      registerUser: (input: Parameters<UseCases['registerUser']>[0]) =>
        registerUser({ uow, passwordHasher, clock, logger, publicUrl: config.publicUrl, ...tokens }, input),
      loginUser: (input: { email: string; password: string }) =>
        loginUser({ uow, users: repositories.users, passwordHasher, clock, ...tokens }, input),
      refreshSession: (token: string) => refreshSession({ uow, clock, logger, ...tokens }, token),
      logoutUser: (token: string) => logoutUser({ uow, clock }, token),
      verifyEmail: (token: string) => verifyEmail({ uow, clock }, token),
      getProfile: (userId: string) => getProfile({ users: repositories.users }, userId),
      startGuestSession: () => startGuestSession({ uow, clock }),
      createAdmin: (input: { email: string; password: string }) =>
        createAdmin({ uow, passwordHasher }, input),
    };

    let app: FastifyInstance | undefined;
    if (role !== 'worker') {
      app = await buildApp({
        logger,
        useCases,
        outbox: new KyselyOutboxMonitor(db),
        guestSessions: repositories.guestSessions,
        guestSessionTtlMs: GUEST_SESSION_TTL_MS,
        clock,
        metrics: createMetricsRegistry(),
        rateLimitStore: createRateLimitStore({ redis, pool, logger }),
        health: {
          postgres: async () => (await sql`SELECT 1`.execute(db), true),
          redis: () => cache.health(),
          queue: async () => (await boss.getQueue(policies['cache.invalidate'].queue)) !== null,
        },
        config,
      });
      // Closed first: stop taking requests before the workers and pools go.
      closers.push(() => app!.close());
    }

    return { app, db, boss, cache, redis, uow, passwordHasher, useCases, close };
  } catch (error) {
    await close();
    throw error;
  }
}
