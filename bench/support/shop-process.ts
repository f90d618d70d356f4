import { benchShopEnv } from './bench-shop-env.js';
import { freePort } from '../../tests/support/free-port.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

export interface ShopProcessOptions {
  name: string;
  databaseUrl: string;
  /** Absent: the shop runs without a cache. */
  redisUrl?: string;
  redisKeyPrefix?: string;
  role?: 'all' | 'api';
  /** Run the production build (`dist/main.js`, from `npm run build`) rather than the sources through tsx. */
  fromBuild?: boolean;
  /** Further configuration (`G2A_*`, `BCRYPT_COST`, …); `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
}

/**
 * Every variable the shop reads, unset unless a benchmark sets it, so the caller's own environment (a
 * production NODE_ENV, an SMTP_URL, a global rate limit) cannot change what is measured.
 */
const SHOP_VARIABLES = [
  'NODE_ENV',
  'PORT',
  'HOST',
  'PUBLIC_URL',
  'LOG_LEVEL',
  'LOG_FORMAT',
  'METRICS_TOKEN',
  'DATABASE_URL',
  'REDIS_URL',
  'REDIS_KEY_PREFIX',
  'NEAR_CACHE_MAX_ENTRIES',
  'NEAR_CACHE_MAX_MB',
  'NEAR_CACHE_TTL_MS',
  'JWT_SECRET',
  'ACCESS_TOKEN_TTL_SECONDS',
  'REFRESH_TOKEN_TTL_DAYS',
  'BCRYPT_COST',
  'SMTP_URL',
  'MAIL_FROM',
  'G2A_BASE_URL',
  'G2A_API_HASH',
  'G2A_API_SECRET',
  'G2A_EMAIL',
  'G2A_RATE_PER_MINUTE',
  'G2A_WEBHOOK_SECRET',
  'G2A_SIMULATOR_PRODUCTS',
  'KEYS_ENCRYPTION_KEY',
  'PRICE_MARKUP_PERCENT',
  'LOGIN_RATE_LIMIT',
  'AUTH_RATE_LIMIT_PER_IP',
  'GUEST_SESSION_RATE_LIMIT_PER_IP',
  'RATE_LIMIT_PER_MINUTE',
  'CORS_ORIGIN',
  'OUTBOX_MAX_ATTEMPTS',
  'SYNC_SCHEDULES',
  'SYNC_STALE_AFTER_SECONDS',
];

/**
 * The shop as `npm start` runs it (`node --import tsx src/main.ts`), or from its production build, in a child process on a loopback port,
 * answering `/health`, configured by `benchShopEnv()` and then `env`.
 */
export async function startShopProcess(options: ShopProcessOptions): Promise<ServerProcess> {
  const port = await freePort();
  const role = options.role ?? 'all';
  return startServerProcess({
    name: options.name,
    script: options.fromBuild ? 'dist/main.js' : 'src/main.ts',
    args: ['--role', role],
    port,
    healthPath: '/health',
    env: {
      ...Object.fromEntries(SHOP_VARIABLES.map((name) => [name, undefined])),
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      ...benchShopEnv(),
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      REDIS_KEY_PREFIX: options.redisUrl ? options.redisKeyPrefix : undefined,
      ...options.env,
    },
  });
}
