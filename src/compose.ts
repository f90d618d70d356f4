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
import { addCartItem, type AddCartItemInput } from './application/add-cart-item.js';
import { addWishlistItem, type AddWishlistItemInput } from './application/add-wishlist-item.js';
import { clearCart } from './application/clear-cart.js';
import { deleteExpiredGuestSessions } from './application/delete-expired-guest-sessions.js';
import { getCart } from './application/get-cart.js';
import { getWishlist, type GetWishlistInput } from './application/get-wishlist.js';
import { mergeGuestIntoUser, type MergeGuest } from './application/merge-guest-into-user.js';
import { removeCartItem, type RemoveCartItemInput } from './application/remove-cart-item.js';
import { removeWishlistItem, type RemoveWishlistItemInput } from './application/remove-wishlist-item.js';
import { setCartItemQuantity, type SetCartItemQuantityInput } from './application/set-cart-item-quantity.js';
import { startGuestCleanup } from './adapters/jobs/guest-cleanup.js';
import type { CartOwner } from './domain/cart.js';
import { getGame } from './application/get-game.js';
import { getHome } from './application/get-home.js';
import { getSyncStatus } from './application/get-sync-status.js';
import { listGames } from './application/list-games.js';
import { listTaxonomy } from './application/list-taxonomy.js';
import { runSync } from './application/run-sync.js';
import { triggerSync } from './application/trigger-sync.js';
import { createG2ASimulator } from './adapters/g2a/simulator.js';
import { UndiciG2AClient } from './adapters/g2a/undici-g2a-client.js';
import { createSyncQueues, startSyncWorkers } from './adapters/jobs/sync-workers.js';
import { PostgresAdvisoryLock } from './adapters/postgres/advisory-lock.js';
import { KyselyCatalogReader } from './adapters/postgres/kysely-catalog-reader.js';
import { FallbackLock } from './adapters/redis/fallback-lock.js';
import { RedlockLock } from './adapters/redis/redlock-lock.js';
import { RedisSyncProgressBoard } from './adapters/redis/redis-sync-progress-board.js';
import type { SyncProgressBoard } from './ports/catalog.js';
import type { G2A } from './ports/g2a.js';
import type { Lock } from './ports/lock.js';
import type { Logger } from './ports/logger.js';
import { buildApp, type UseCases } from './adapters/http/app.js';
import { createMetricsRegistry } from './adapters/http/metrics.js';
import { createRateLimitStore } from './adapters/http/rate-limit-store.js';
import { outboxQueuePolicies, type OutboxQueuePolicies } from './adapters/jobs/outbox-queues.js';
import { createOutboxQueues, outboxHandlers, startOutboxWorkers } from './adapters/jobs/outbox-worker.js';
import { scheduleOutboxSweep } from './adapters/jobs/outbox-sweeper.js';
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
  /** Replaces the G2A client built from the config (tests wrap it to count or break calls). */
  g2a?: G2A;
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
  // Shutdown order: stop taking requests, let in-flight jobs finish (they still need G2A, SMTP, Redis and the
  // pools), then close everything else in the reverse order it was opened.
  const closers: (() => Promise<unknown>)[] = [];
  let stopRequests: (() => Promise<unknown>) | undefined;
  let stopJobs: (() => Promise<unknown>) | undefined;
  const close = async () => {
    for (const closer of [stopRequests, stopJobs, ...closers.reverse()]) {
      await closer?.().catch((error: Error) => logger.error({ err: error }, 'error during shutdown'));
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
    stopJobs = () => boss.stop({ graceful: true, wait: true, timeout: 20_000 });
    await createOutboxQueues(boss, policies);
    await createSyncQueues(boss);

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
      await scheduleOutboxSweep({ boss, db, policies, logger, schedules: config.syncSchedules });
    }

    const repositories = createRepositories(db);
    const catalog = new KyselyCatalogReader(db);
    const lock: Lock = redis
      ? new FallbackLock({
          postgres: new PostgresAdvisoryLock(pool, { logger }),
          redis: new RedlockLock(redis, { logger }),
          logger,
        })
      : new PostgresAdvisoryLock(pool, { logger });
    const progress: SyncProgressBoard = redis
      ? new RedisSyncProgressBoard(redis)
      : { publish: async () => {} };
    const syncDeps = { uow, clock, logger, staleAfterMs: config.syncStaleAfterMs };
    const trigger = (kind: 'catalog' | 'stock', how: 'manual' | 'schedule') =>
      triggerSync(syncDeps, { kind, trigger: how });

    if (runsWorkers) {
      const g2a = options.g2a ?? (await connectG2A(config, logger, closers));
      await startSyncWorkers({
        boss,
        logger,
        schedules: config.syncSchedules,
        triggerSync: trigger,
        runSync: (input) =>
          runSync(
            {
              ...syncDeps,
              syncRuns: repositories.syncRuns,
              g2a,
              lock,
              progress,
              markupPercent: config.priceMarkupPercent,
            },
            input,
          ),
      });
      if (
        config.syncSchedules &&
        !(await repositories.syncRuns.recent(50)).some((r) => r.kind === 'catalog' && r.status === 'finished')
      ) {
        // A shop that never synced fills its catalogue now rather than at the next cron slot.
        await trigger('catalog', 'schedule');
      }
    }
    const passwordHasher = new BcryptPasswordHasher(config.bcryptCost);
    const tokens = { refreshTokenTtlDays: config.refreshTokenTtlDays };
    // Use cases that log take the request's logger, so their lines carry its request id.
    const mergeGuestLoggingTo =
      (log: Logger): MergeGuest =>
      (input) =>
        mergeGuestIntoUser({ uow, clock, logger: log }, input);
    if (runsWorkers) {
      await startGuestCleanup({
        boss,
        logger,
        deleteExpiredGuestSessions: () =>
          deleteExpiredGuestSessions({ guestSessions: repositories.guestSessions, clock, logger }),
      });
    }
    const useCases = {
      registerUser: (input: Parameters<UseCases['registerUser']>[0], log: Logger = logger) =>
        registerUser(
          {
            uow,
            passwordHasher,
            clock,
            logger: log,
            publicUrl: config.publicUrl,
            mergeGuest: mergeGuestLoggingTo(log),
            ...tokens,
          },
          input,
        ),
      loginUser: (input: Parameters<UseCases['loginUser']>[0], log: Logger = logger) =>
        loginUser(
          {
            uow,
            users: repositories.users,
            passwordHasher,
            clock,
            mergeGuest: mergeGuestLoggingTo(log),
            ...tokens,
          },
          input,
        ),
      refreshSession: (token: string, log: Logger = logger) =>
        refreshSession({ uow, clock, logger: log, ...tokens }, token),
      logoutUser: (token: string) => logoutUser({ uow, clock }, token),
      verifyEmail: (token: string) => verifyEmail({ uow, clock }, token),
      getProfile: (userId: string) => getProfile({ users: repositories.users }, userId),
      startGuestSession: () => startGuestSession({ uow, clock }),
      createAdmin: (input: { email: string; password: string }) =>
        createAdmin({ uow, passwordHasher }, input),
      listGames: (query: Parameters<UseCases['listGames']>[0]) => listGames({ catalog, cache }, query),
      getGame: (idOrSlug: string) => getGame({ catalog, cache }, idOrSlug),
      getHome: () => getHome({ catalog, cache }),
      listTaxonomy: (kind: Parameters<UseCases['listTaxonomy']>[0]) => listTaxonomy({ catalog, cache }, kind),
      triggerSync: (kind: 'catalog' | 'stock', log: Logger = logger) =>
        triggerSync({ ...syncDeps, logger: log }, { kind, trigger: 'manual' }),
      getSyncStatus: () => getSyncStatus({ syncRuns: repositories.syncRuns }),
      getCart: (owner: CartOwner) => getCart({ carts: repositories.carts, cache }, owner),
      addCartItem: (input: AddCartItemInput) => addCartItem({ uow }, input),
      setCartItemQuantity: (input: SetCartItemQuantityInput) => setCartItemQuantity({ uow }, input),
      removeCartItem: (input: RemoveCartItemInput) => removeCartItem({ uow }, input),
      clearCart: (owner: CartOwner) => clearCart({ uow }, owner),
      getWishlist: (input: GetWishlistInput) =>
        getWishlist({ wishlists: repositories.wishlists, cache }, input),
      addWishlistItem: (input: AddWishlistItemInput) => addWishlistItem({ uow }, input),
      removeWishlistItem: (input: RemoveWishlistItemInput) => removeWishlistItem({ uow }, input),
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
      stopRequests = () => app!.close();
    }

    return { app, db, boss, cache, redis, uow, passwordHasher, useCases, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** The G2A of the config, or, without credentials, the simulator started in this process. */
async function connectG2A(
  config: Config,
  logger: PinoLogger,
  closers: (() => Promise<unknown>)[],
): Promise<G2A> {
  let baseUrl = config.g2a.baseUrl;
  if (!baseUrl) {
    const simulator = createG2ASimulator({
      products: config.simulatorProducts,
      seed: 1,
      apiHash: config.g2a.apiHash,
      apiSecret: config.g2a.apiSecret,
      email: config.g2a.email,
    });
    baseUrl = await simulator.listen(0, '127.0.0.1');
    closers.push(() => simulator.close());
  }
  const client = new UndiciG2AClient({
    baseUrl,
    apiHash: config.g2a.apiHash,
    apiSecret: config.g2a.apiSecret,
    email: config.g2a.email,
    ratePerMinute: config.g2a.ratePerMinute,
    logger,
  });
  closers.push(() => client.close());
  logger.info(
    { g2a: client.describe(), simulator: !config.g2a.baseUrl },
    config.g2a.baseUrl
      ? `talking to ${client.describe()}`
      : `talking to the in-process G2A simulator: ${client.describe()}`,
  );
  return client;
}
