import { randomBytes } from 'node:crypto';

const BENCH_JWT_SECRET = 'keyshop-benchmark-only-jwt-secret-0123456789';
// One key for every shop of a run: processes that share a database must read each other's keys.
const BENCH_KEYS_ENCRYPTION_KEY = randomBytes(32).toString('base64');

/**
 * The configuration every benchmarked shop shares: logs at `warn` (per-request info lines would be measured
 * too), no cron syncs, no simulator of its own, bcrypt cost 4 unless a benchmark sets `BCRYPT_COST`, no per-address limits.
 */
export function benchShopEnv(): Record<string, string> {
  return {
    JWT_SECRET: BENCH_JWT_SECRET,
    KEYS_ENCRYPTION_KEY: BENCH_KEYS_ENCRYPTION_KEY,
    LOG_LEVEL: 'warn',
    SYNC_SCHEDULES: 'off',
    G2A_SIMULATOR_PRODUCTS: '0',
    BCRYPT_COST: '4',
    // Every request of a benchmark comes from one address.
    AUTH_RATE_LIMIT_PER_IP: '1000000',
    GUEST_SESSION_RATE_LIMIT_PER_IP: '1000000',
  };
}
