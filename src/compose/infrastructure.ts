import type { Redis } from 'ioredis';
import type { Logger as PinoLogger } from 'pino';
import PgBoss from 'pg-boss';
import type pg from 'pg';
import { SharedG2ARateLimiter, type G2ARateLimiter } from '../adapters/g2a/g2a-rate-limiter.js';
import { createG2ASimulator } from '../adapters/g2a/simulator.js';
import { UndiciG2AClient } from '../adapters/g2a/undici-g2a-client.js';
import type { CreateQueue } from '../adapters/jobs/create-queue.js';
import { createOutboxQueues, PG_BOSS_SCHEMA } from '../adapters/jobs/outbox-worker.js';
import { outboxRegistry, type OutboxRegistry, type OutboxSettings } from '../adapters/jobs/outbox-topics.js';
import { createSyncQueues } from '../adapters/jobs/sync-workers.js';
import { WorkerWakeups } from '../adapters/jobs/worker-wakeups.js';
import { LogMailer } from '../adapters/mailer/log-mailer.js';
import { createShopMetrics, type ShopMetrics } from '../adapters/metrics/shop-metrics.js';
import { SmtpMailer } from '../adapters/mailer/smtp-mailer.js';
import { PostgresAdvisoryLock } from '../adapters/postgres/advisory-lock.js';
import { createDb, createPool, type Db } from '../adapters/postgres/db.js';
import { startEmbeddedDatabase } from '../adapters/postgres/embedded-database.js';
import { serialisedQueueCreation, startSerialised } from '../adapters/postgres/queue-creation.js';
import { KyselyUnitOfWork } from '../adapters/postgres/kysely-unit-of-work.js';
import { migrateToLatest } from '../adapters/postgres/migrate.js';
import { PostgresGcraStore } from '../adapters/postgres/postgres-gcra-store.js';
import { createReaders, type Readers } from '../adapters/postgres/repositories.js';
import { FallbackLock } from '../adapters/redis/fallback-lock.js';
import { NoopCache } from '../adapters/redis/noop-cache.js';
import { PgBossOutboxMonitor, pendingInvalidationsReader } from '../adapters/jobs/outbox-monitor.js';
import { syncRunCounts } from '../adapters/postgres/sync-run-counts.js';
import { SharedWakeups } from '../adapters/postgres/shared-wakeups.js';
import { CacheTrust } from '../adapters/redis/cache-trust.js';
import { RedisGuard } from '../adapters/redis/redis-guard.js';
import { createThrottledWarning } from '../adapters/redis/throttled-warning.js';
import { isSharedEntry } from '../domain/cache-keys.js';
import { InvalidationFeed } from '../adapters/redis/invalidation-feed.js';
import { NearCache } from '../adapters/redis/near-cache.js';
import { RedisCache } from '../adapters/redis/redis-cache.js';
import { createRedisClient } from '../adapters/redis/redis-client.js';
import { RedisSyncProgressBoard } from '../adapters/redis/redis-sync-progress-board.js';
import { RedlockLock } from '../adapters/redis/redlock-lock.js';
import { AesGcmKeyVault } from '../adapters/security/aes-gcm-key-vault.js';
import type { Config, Role } from '../config.js';
import type { Cache } from '../ports/cache.js';
import type { SyncProgressBoard } from '../ports/catalog.js';
import { systemClock, type Clock } from '../ports/clock.js';
import type { G2A } from '../ports/g2a.js';
import type { KeyVault } from '../ports/key-vault.js';
import type { Lock } from '../ports/lock.js';
import type { Logger } from '../ports/logger.js';
import type { Mailer } from '../ports/mailer.js';
import type { OutboxTopic } from '../ports/outbox.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { Shutdown } from './shutdown.js';

export interface InfrastructureOptions {
  role?: Role;
  /** pino: the HTTP server logs through it too. */
  logger: PinoLogger;
  clock?: Clock;
  /** Replaces the mailer built from the config (tests inject failures through it). */
  mailer?: Mailer;
  /** Overrides outbox delivery policies (tests use short delays). */
  outboxDelivery?: OutboxSettings['delivery'];
  /** Replaces the G2A client built from the config (tests wrap it to count or break calls). */
  g2a?: G2A;
  /** How often pg-boss gives the jobs of dead workers back and archives old ones (tests shorten it). */
  jobMaintenanceIntervalSeconds?: number;
  /**
   * The Redis guard's bound on one call (150 ms). Tests of what the cache does, rather than of how fast it gives
   * up, raise it: on a machine running many test files at once a healthy Redis can answer later than that.
   */
  redisCallTimeoutMs?: number;
  /** Folder for embedded PostgreSQL data when no DATABASE_URL is given. */
  dataDir?: string;
  embeddedPostgresPort?: number;
}

/** Everything the shop talks to, opened from the config, with what closes it. */
export interface Infrastructure {
  config: Config;
  role: Role;
  /** Whether this process works jobs (role `all` or `worker`). */
  runsWorkers: boolean;
  logger: Logger;
  clock: Clock;
  pool: pg.Pool;
  db: Db;
  redis?: Redis;
  /** The one circuit breaker of this process's Redis calls (absent without Redis). */
  redisGuard?: RedisGuard;
  cache: Cache;
  /** The in-process near cache and the feed keeping it coherent (API processes with Redis). */
  near?: { cache: NearCache; feed: InvalidationFeed };
  boss: PgBoss;
  /** Creates a pg-boss queue unless it exists, one process at a time. */
  createQueue: CreateQueue;
  outbox: OutboxRegistry;
  wakeups: WorkerWakeups;
  uow: UnitOfWork;
  readers: Readers;
  mailer: Mailer;
  lock: Lock;
  progress: SyncProgressBoard;
  vault: KeyVault;
  metrics: ShopMetrics;
  /** The G2A the workers use; only processes that work jobs connect to it. */
  g2a?: G2A;
  shutdown: Shutdown;
}

/** Failed outbox messages stay in pg-boss's job table this long for `GET /admin/outbox`. */
const KEEP_FAILED_SECONDS = 7 * 24 * 3600;
/** A job whose worker died comes back within its expiry plus this (pg-boss's default is two minutes). */
const JOB_MAINTENANCE_INTERVAL_SECONDS = 30;

/** Opens pools, the embedded database, Redis, pg-boss, the mailer and G2A; on failure closes what it opened. */
export async function openInfrastructure(
  config: Config,
  options: InfrastructureOptions,
): Promise<Infrastructure> {
  const role = options.role ?? 'all';
  const runsWorkers = role !== 'api';
  const logger = options.logger;
  const shutdown = new Shutdown(logger);
  try {
    let databaseUrl = config.databaseUrl;
    if (!databaseUrl) {
      const embedded = await startEmbeddedDatabase({
        dataDir: options.dataDir ?? '.data',
        port: options.embeddedPostgresPort ?? 54329,
        logger,
        stopping: shutdown.stopping,
      });
      shutdown.add(() => embedded.stop());
      databaseUrl = embedded.url;
    }

    const pool = createPool(databaseUrl, { max: 10, applicationName: `keyshop-${role}` });
    const db = createDb(pool);
    shutdown.add(() => db.destroy());
    await migrateToLatest(db);

    let redis: Redis | undefined;
    let redisGuard: RedisGuard | undefined;
    // Set once pg-boss (where pending invalidations are read) is up; until then the cache is trusted.
    let cacheTrust: CacheTrust | undefined;
    let cache: Cache = new NoopCache();
    let nearLayer: Infrastructure['near'];
    if (config.redisUrl) {
      const client = createRedisClient(config.redisUrl, { keyPrefix: config.redisKeyPrefix, logger });
      redis = client;
      shutdown.add(() => client.quit().catch(() => client.disconnect()));
      // One guard for every Redis call of the process: what the cache learns, the limits and locks know.
      const guard = new RedisGuard({
        logger,
        probe: () => client.ping(),
        callTimeoutMs: options.redisCallTimeoutMs,
      });
      redisGuard = guard;
      shutdown.add(async () => guard.shutdown());
      // Only where cached entries are read: a worker-only process invalidates, it does not read.
      let near: NearCache | undefined;
      if (role !== 'worker' && config.nearCache.maxEntries > 0) {
        const nearCache = new NearCache({ ...config.nearCache, admits: isSharedEntry });
        guard.onChange((state) => nearCache.setRedisHealthy(state === 'closed'));
        const feed = new InvalidationFeed(client, nearCache, logger);
        feed.start();
        shutdown.add(() => feed.close());
        near = nearCache;
        nearLayer = { cache: nearCache, feed };
      }
      cache = new RedisCache(client, {
        logger,
        guard,
        near,
        trust: {
          get trusted() {
            return cacheTrust?.trusted ?? true;
          },
        },
      });
    } else {
      logger.warn('REDIS_URL is unset: running without a cache; locks and rate limits use PostgreSQL');
    }

    const boss = new PgBoss({
      connectionString: databaseUrl,
      schema: PG_BOSS_SCHEMA,
      max: 4,
      application_name: `keyshop-${role}-jobs`,
      supervise: runsWorkers,
      schedule: runsWorkers,
      archiveFailedAfterSeconds: KEEP_FAILED_SECONDS,
      maintenanceIntervalSeconds: options.jobMaintenanceIntervalSeconds ?? JOB_MAINTENANCE_INTERVAL_SECONDS,
    });
    // Once shutdown begins, errors of connections the database closes (an embedded cluster stopped by the same
    // Ctrl-C) are expected: logged only at debug.
    // A database that closes its connections (stopping, restarting, failing over; an embedded cluster that a
    // terminal's Ctrl-C reached first) makes every pg-boss connection fail at once: one warning, not a flood.
    const warnClosed = createThrottledWarning(logger);
    boss.on('error', (error: Error & { code?: string }) => {
      const closed = error.code === '57P01' || /Connection terminated/i.test(error.message);
      if (shutdown.stopping.aborted) logger.debug({ err: error }, 'pg-boss error while stopping');
      else if (closed)
        warnClosed(
          { code: error.code, error: error.message },
          'PostgreSQL closed the job queue’s connections',
        );
      else logger.error({ err: error }, 'pg-boss error');
    });
    await startSerialised(boss, db);
    // Long jobs hand their work on when shutdown begins (a sync run at its next page), so a stop finishes well
    // within the 10 s an orchestrator gives before SIGKILL.
    shutdown.onStopJobs(() => boss.stop({ graceful: true, wait: true, timeout: 8_000 }));
    const outbox = outboxRegistry({
      emailMaxAttempts: config.outboxMaxAttempts,
      delivery: options.outboxDelivery,
    });
    const createQueue = serialisedQueueCreation(boss, db);
    await createOutboxQueues(createQueue, outbox);
    await createSyncQueues(createQueue);
    // Only where cached entries are read: a worker-only process invalidates, it does not read.
    if (redisGuard && role !== 'worker') {
      const trust = new CacheTrust({
        guard: redisGuard,
        pendingInvalidations: pendingInvalidationsReader(boss, outbox),
        logger,
      });
      trust.start();
      shutdown.add(async () => trust.stop());
      cacheTrust = trust;
    }

    let mailer: Mailer = options.mailer ?? new LogMailer(logger);
    if (!options.mailer && config.smtpUrl) {
      const smtp = new SmtpMailer(config.smtpUrl, config.mailFrom);
      shutdown.add(async () => smtp.close());
      mailer = smtp;
    }

    const wakeups = new WorkerWakeups(boss);
    const sharedWakeups = new SharedWakeups(databaseUrl, pool, logger, shutdown.stopping);
    shutdown.add(() => sharedWakeups.close());
    if (runsWorkers) await sharedWakeups.listen(wakeups);
    const postgresLock = new PostgresAdvisoryLock(pool, { logger });
    const lock: Lock = redis
      ? new FallbackLock({
          postgres: postgresLock,
          redis: new RedlockLock(redis, { logger, guard: redisGuard }),
          logger,
        })
      : postgresLock;
    const progress: SyncProgressBoard = redis
      ? new RedisSyncProgressBoard(redis, redisGuard)
      : { publish: async () => {} };
    const metrics = createShopMetrics();
    const outboxMonitor = new PgBossOutboxMonitor(boss, outbox);
    metrics.watchBacklog({ outbox: () => outboxMonitor.backlog(), syncRuns: () => syncRunCounts(db) });
    if (cache instanceof RedisCache) {
      const redisCache = cache;
      metrics.watchCache(() => {
        const near = nearLayer?.cache.stats();
        return {
          reads: [
            { layer: 'redis', outcome: 'hit', count: redisCache.hits },
            { layer: 'redis', outcome: 'miss', count: redisCache.misses },
            { layer: 'redis', outcome: 'bypass', count: redisCache.bypasses },
            { layer: 'redis', outcome: 'failure', count: redisCache.failures },
            ...(near
              ? [
                  { layer: 'near' as const, outcome: 'hit', count: near.hits },
                  { layer: 'near' as const, outcome: 'miss', count: near.misses },
                ]
              : []),
          ],
          nearEntries: nearLayer?.cache.size ?? 0,
          redisGuardOpen: redisGuard?.isOpen ?? false,
        };
      });
    }
    // One G2A rate for every process of the shop, counted where they all meet: the database.
    const limiter = new SharedG2ARateLimiter(
      new PostgresGcraStore(db),
      config.g2a.ratePerMinute,
      (priority, waitedMs) => metrics.g2aLimiterWait.observe({ priority }, waitedMs / 1000),
    );
    const g2a = runsWorkers
      ? (options.g2a ?? (await connectG2A(config, { logger, shutdown, limiter, metrics })))
      : undefined;

    return {
      config,
      role,
      runsWorkers,
      logger,
      clock: options.clock ?? systemClock,
      pool,
      db,
      redis,
      redisGuard,
      cache,
      near: nearLayer,
      boss,
      createQueue,
      outbox,
      wakeups,
      uow: new KyselyUnitOfWork({
        db,
        boss,
        registry: outbox,
        cache,
        wakeups,
        logger,
        onDeferred: (queue) => sharedWakeups.notify(queue),
        // Without Redis there is no cache: its invalidations would only be delivered to a no-op.
        undeliverable: new Set<OutboxTopic>(redis ? [] : ['cache.invalidate']),
      }),
      readers: createReaders(db),
      mailer,
      lock,
      progress,
      vault: new AesGcmKeyVault(config.keysEncryptionKey, config.previousKeysEncryptionKeys),
      metrics,
      g2a,
      shutdown,
    };
  } catch (error) {
    await shutdown.run();
    throw error;
  }
}

/**
 * The G2A of the config, or, without credentials, the simulator started in this process (pushing its signed
 * webhooks to this shop).
 */
async function connectG2A(
  config: Config,
  deps: { logger: Logger; shutdown: Shutdown; limiter: G2ARateLimiter; metrics: ShopMetrics },
): Promise<G2A> {
  const { logger, shutdown } = deps;
  let baseUrl = config.g2a.baseUrl;
  if (!baseUrl) {
    const simulator = createG2ASimulator({
      products: config.simulatorProducts,
      seed: 1,
      apiHash: config.g2a.apiHash,
      apiSecret: config.g2a.apiSecret,
      email: config.g2a.email,
      ratePerMinute: config.g2a.ratePerMinute,
      ...(config.g2a.webhookSecret
        ? { webhook: { url: `${config.publicUrl}/api/v1/webhooks/g2a`, secret: config.g2a.webhookSecret } }
        : {}),
    });
    baseUrl = await simulator.listen(0, '127.0.0.1');
    shutdown.add(() => simulator.close());
  }
  const client = new UndiciG2AClient({
    baseUrl,
    apiHash: config.g2a.apiHash,
    apiSecret: config.g2a.apiSecret,
    email: config.g2a.email,
    timeoutMs: config.g2a.timeoutMs,
    limiter: deps.limiter,
    logger,
    onAttempt: (endpoint, outcome) => deps.metrics.g2aCalls.inc({ endpoint, outcome }),
    stopping: shutdown.stopping,
  });
  shutdown.add(() => client.close());
  logger.info(
    { g2a: client.describe(), simulator: !config.g2a.baseUrl },
    config.g2a.baseUrl
      ? `talking to ${client.describe()}`
      : `talking to the in-process G2A simulator: ${client.describe()}`,
  );
  return client;
}
