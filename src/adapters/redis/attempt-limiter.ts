import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import {
  RateLimiterPostgres,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import type { AttemptLimiter, AttemptVerdict } from '../../ports/attempt-limiter.js';
import type { Logger } from '../../ports/logger.js';
import { RedisGuard } from './redis-guard.js';
import { createThrottledWarning } from './throttled-warning.js';

export interface AttemptLimiterOptions {
  /** What is limited, the prefix of its keys: `auth-ip`, `guest-session-ip`. */
  name: string;
  /** Attempts allowed per key in each window. */
  points: number;
  windowSeconds: number;
  /** Counts here while it answers; absent, not ready or failing, counts go to PostgreSQL. */
  redis?: Redis;
  /** The process's one guard of Redis calls; without it the limiter keeps one of its own. */
  guard?: RedisGuard;
  pool: Pool;
  logger?: Logger;
}

/** The migrated table of rate-limiter-flexible's PostgreSQL store (`rate_limit_points`). */
const TABLE = 'rate_limit_points';

/**
 * rate-limiter-flexible: a fixed window per key in Redis, with the same limiter in PostgreSQL as its fallback
 * (used at once when Redis is not ready, the guard is open or a call fails or outlasts the guard's bound; the
 * two count separately, so a switch starts a fresh window). Without Redis, PostgreSQL alone. When neither answers the attempt is let through with a
 * warning: the work it guards needs PostgreSQL anyway, and a limiter must not be what takes sign-in down.
 */
export function createAttemptLimiter(options: AttemptLimiterOptions): AttemptLimiter {
  const warn = createThrottledWarning(options.logger);
  const common = { keyPrefix: options.name, points: options.points, duration: options.windowSeconds };
  const postgres = new RateLimiterPostgres({
    ...common,
    storeClient: options.pool,
    tableName: TABLE,
    tableCreated: true,
    clearExpiredByTimeout: true,
  });
  const redis: RateLimiterAbstract | undefined = options.redis
    ? new RateLimiterRedis({ ...common, storeClient: options.redis, rejectIfRedisNotReady: true })
    : undefined;
  const guard = redis ? (options.guard ?? new RedisGuard({ logger: options.logger })) : undefined;

  /** Runs `use` on Redis under the guard, or on PostgreSQL when Redis cannot answer now. */
  async function onStore<R>(use: (limiter: RateLimiterAbstract) => Promise<R>): Promise<R> {
    if (redis && guard && !guard.isOpen) {
      try {
        // A refusal is an answer, not a failure of Redis: it leaves the guard as a value.
        const outcome = await guard.run(async () => {
          try {
            return { value: await use(redis) };
          } catch (refusal) {
            if (refusal instanceof RateLimiterRes) return { refusal };
            throw refusal;
          }
        });
        if ('refusal' in outcome) throw outcome.refusal;
        return outcome.value;
      } catch (error) {
        if (error instanceof RateLimiterRes) throw error;
        warn({ err: error, limiter: options.name }, 'attempt limiter counting in postgres: redis failed');
      }
    }
    return use(postgres);
  }

  return {
    async take(key: string): Promise<AttemptVerdict> {
      try {
        await onStore((limiter) => limiter.consume(key));
        return { allowed: true };
      } catch (refusal) {
        if (refusal instanceof RateLimiterRes)
          return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) };
        warn({ err: refusal, limiter: options.name }, 'attempt limiter unavailable: attempt let through');
        return { allowed: true };
      }
    },
    async giveBack(key: string): Promise<void> {
      try {
        await onStore((limiter) => limiter.reward(key));
      } catch (error) {
        warn({ err: error, limiter: options.name }, 'attempt limiter unavailable: attempt not given back');
      }
    },
  };
}
