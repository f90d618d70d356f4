import pino from 'pino';
import { createShop, type Shop, type ShopOptions } from '../../src/compose/create-shop.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createTestDatabase, redisUrl, uniqueRedisPrefix } from './services.js';
import { TEST_REDIS_CALL_TIMEOUT_MS } from './redis-call-timeout.js';

export { waitFor } from './wait-for.js';

export interface TestShop extends Shop {
  config: Config;
  databaseUrl: string;
  /** Closes the shop and drops its database. */
  dispose(): Promise<void>;
}

export interface TestShopOptions extends Partial<ShopOptions> {
  env?: Record<string, string | undefined>;
  /** No Redis at all (`REDIS_URL` unset). */
  withoutRedis?: boolean;
  /** Reuse a database (another process of the same shop); it is not dropped by this shop. */
  databaseUrl?: string;
}

/** A whole shop (API and workers) on a fresh database and its own Redis key prefix. */
export async function startTestShop(options: TestShopOptions = {}): Promise<TestShop> {
  const database = options.databaseUrl
    ? { url: options.databaseUrl, drop: async () => {} }
    : await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    REDIS_URL: options.withoutRedis ? undefined : redisUrl(),
    REDIS_KEY_PREFIX: uniqueRedisPrefix(),
    JWT_SECRET: 'test-secret-test-secret-test-secret-42',
    BCRYPT_COST: '4',
    LOG_LEVEL: 'silent',
    SYNC_SCHEDULES: 'off',
    // Every test request comes from one address: the per-address limits are tested where they are set low.
    AUTH_RATE_LIMIT_PER_IP: '1000000',
    GUEST_SESSION_RATE_LIMIT_PER_IP: '1000000',
    ...options.env,
  });
  const shop = await createShop(config, {
    redisCallTimeoutMs: TEST_REDIS_CALL_TIMEOUT_MS,
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    ...options,
  });
  return {
    ...shop,
    config,
    databaseUrl: database.url,
    dispose: async () => {
      await shop.close();
      await database.drop();
    },
  };
}
