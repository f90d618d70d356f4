import type { Pool } from 'pg';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { AttemptLimiter, AttemptVerdict } from '../../ports/attempt-limiter.js';
import type { Logger } from '../../ports/logger.js';

export interface AttemptLimiterOptions {
  /** What is limited, the prefix of its keys: `auth-ip`, `sign-in`, `guest-session-ip`. */
  name: string;
  /** Attempts allowed per key in each window. */
  points: number;
  windowSeconds: number;
  pool: Pool;
  logger?: Logger;
}

/** The migrated table of rate-limiter-flexible's PostgreSQL store. */
const TABLE = 'rate_limit_points';

/**
 * rate-limiter-flexible's PostgreSQL store: a fixed window per key, one upsert per attempt, shared by every
 * process. PostgreSQL and not Redis: these limits stand in front of bcrypt (a quarter of a second of a core)
 * or a stored row, so a Redis round trip would save nothing worth having, while a hung Redis would make every
 * sign-in wait on it and processes that disagree on whether Redis answers would split the count. When
 * PostgreSQL does not answer, the attempt is let through with a warning: what it guards needs PostgreSQL anyway.
 */
export function createAttemptLimiter(options: AttemptLimiterOptions): AttemptLimiter {
  const limiter = new RateLimiterPostgres({
    keyPrefix: options.name,
    points: options.points,
    duration: options.windowSeconds,
    storeClient: options.pool,
    tableName: TABLE,
    tableCreated: true,
    clearExpiredByTimeout: true,
  });
  return {
    async take(key: string): Promise<AttemptVerdict> {
      try {
        await limiter.consume(key);
        return { allowed: true };
      } catch (refusal) {
        if (refusal instanceof RateLimiterRes)
          return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(refusal.msBeforeNext / 1000)) };
        options.logger?.warn(
          { err: refusal, limiter: options.name },
          'attempt limiter unavailable: attempt let through',
        );
        return { allowed: true };
      }
    },
    async giveBack(key: string): Promise<void> {
      try {
        await limiter.reward(key);
      } catch (error) {
        options.logger?.warn(
          { err: error, limiter: options.name },
          'attempt limiter unavailable: attempt not given back',
        );
      }
    },
  };
}
