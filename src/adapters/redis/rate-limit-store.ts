import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import type { Logger } from '../../ports/logger.js';
import { LuaScript } from './lua-script.js';
import { RedisGuard } from './redis-guard.js';
import { createThrottledWarning } from './throttled-warning.js';

export interface RateLimitStoreDeps {
  /** Counts in Redis while it answers; absent or unreachable, counts go to Postgres. */
  redis?: Redis;
  /** The process's one guard of Redis calls; without it the store keeps one of its own. */
  guard?: RedisGuard;
  pool: Pool;
  logger?: Logger;
  /** How often, at most, expired Postgres counters are swept. */
  pruneIntervalMs?: number;
}

/** The part of the plugin's options (global or per route) the store reads. */
interface StoreOptions {
  timeWindow?: unknown;
  max?: unknown;
  continueExceeding?: boolean;
  exponentialBackoff?: boolean;
  routeInfo?: { method?: string | string[]; url?: string };
}

type IncrCallback = Parameters<FastifyRateLimitStore['incr']>[1];

interface Count {
  current: number;
  ttl: number;
}

const DEFAULT_WINDOW_MS = 60_000;
const PRUNE_INTERVAL_MS = 10 * 60_000;
const PRUNE_BATCH = 1_000;

// KEYS[1] counter; ARGV[1] window (ms), ARGV[2] max, ARGV[3] '1' to restart the window while over the limit.
const INCREMENT = new LuaScript(`
local current = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if current == 1 or ttl < 0 or (ARGV[3] == '1' and current > tonumber(ARGV[2])) then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}
`);

const INCREMENT_SQL = `
INSERT INTO rate_limit_hits AS h (key, hits, reset_at)
VALUES ($1, 1, now() + $2::bigint * interval '1 millisecond')
ON CONFLICT (key) DO UPDATE SET
  hits = CASE WHEN h.reset_at <= now() THEN 1 ELSE h.hits + 1 END,
  reset_at = CASE
    WHEN h.reset_at <= now() THEN excluded.reset_at
    WHEN $3::boolean AND h.hits + 1 > $4::bigint THEN excluded.reset_at
    ELSE h.reset_at
  END
RETURNING hits, GREATEST(0, CEIL(EXTRACT(EPOCH FROM h.reset_at - now()) * 1000))::bigint AS ttl_ms`;

const PRUNE_SQL = `
DELETE FROM rate_limit_hits
WHERE key IN (SELECT key FROM rate_limit_hits WHERE reset_at < now() LIMIT ${PRUNE_BATCH})`;

function scopeOf(options: StoreOptions): string {
  const { method, url } = options.routeInfo ?? {};
  if (url === undefined) return '';
  return `${[method ?? ''].flat().join(',')}${url}:`;
}

/**
 * A fixed-window store for `@fastify/rate-limit`: atomic counters in Redis (`rate-limit:{route}:{key}`), or in
 * the `rate_limit_hits` table when Redis is not configured or does not answer. The two count separately, so a
 * switch between them starts a fresh window.
 */
export function createRateLimitStore(deps: RateLimitStoreDeps): FastifyRateLimitStoreCtor {
  const warn = createThrottledWarning(deps.logger);
  const pruneIntervalMs = deps.pruneIntervalMs ?? PRUNE_INTERVAL_MS;
  let lastPrunedAt = Date.now();
  const guard = deps.guard ?? new RedisGuard({ logger: deps.logger });

  async function countInRedis(
    redis: Redis,
    key: string,
    windowMs: number,
    max: number,
    restart: boolean,
  ): Promise<Count> {
    const [current, ttl] = (await guard.run(() =>
      INCREMENT.run(redis, [`rate-limit:${key}`], [windowMs, max, restart ? '1' : '0']),
    )) as [number, number];
    return { current, ttl };
  }

  async function countInPostgres(
    key: string,
    windowMs: number,
    max: number,
    restart: boolean,
  ): Promise<Count> {
    const { rows } = await deps.pool.query<{ hits: number; ttl_ms: string | number }>(INCREMENT_SQL, [
      key,
      windowMs,
      restart,
      max,
    ]);
    const row = rows[0];
    if (!row) throw new Error('rate limit upsert returned no row');
    pruneNowAndThen();
    return { current: row.hits, ttl: Number(row.ttl_ms) };
  }

  function pruneNowAndThen() {
    if (Date.now() - lastPrunedAt < pruneIntervalMs) return;
    lastPrunedAt = Date.now();
    deps.pool.query(PRUNE_SQL).catch((error: unknown) => warn({ err: error }, 'rate limit prune failed'));
  }

  async function count(key: string, windowMs: number, max: number, restart: boolean): Promise<Count> {
    const { redis } = deps;
    if (redis && redis.status === 'ready' && !guard.isOpen) {
      try {
        return await countInRedis(redis, key, windowMs, max, restart);
      } catch (error) {
        warn({ err: error }, 'rate limit counting in postgres: redis failed');
      }
    }
    return countInPostgres(key, windowMs, max, restart);
  }

  return class RateLimitStore implements FastifyRateLimitStore {
    private readonly scope: string;

    constructor(private readonly options: StoreOptions) {
      if (options.exponentialBackoff)
        throw new Error('the rate limit store does not support exponentialBackoff');
      this.scope = scopeOf(options);
    }

    incr(key: string, callback: IncrCallback, timeWindow?: number, max?: number): void {
      const windowMs = Math.max(
        1,
        Math.trunc(
          timeWindow ??
            (typeof this.options.timeWindow === 'number' ? this.options.timeWindow : DEFAULT_WINDOW_MS),
        ),
      );
      const limit =
        max ?? (typeof this.options.max === 'number' ? this.options.max : Number.MAX_SAFE_INTEGER);
      count(
        `${this.scope}${key}`,
        windowMs,
        Math.min(limit, Number.MAX_SAFE_INTEGER),
        this.options.continueExceeding === true,
      ).then(
        (result) => callback(null, result),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    }

    // Declared as the route's options; what the plugin passes is the route's merged limit options + `routeInfo`.
    child(routeOptions: object): FastifyRateLimitStore {
      return new RateLimitStore({ ...this.options, ...(routeOptions as StoreOptions) });
    }
  };
}
