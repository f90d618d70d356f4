import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

export interface RedisNamespace {
  /** `keyshop-bench-<name>-<random>:`, for `REDIS_KEY_PREFIX`. */
  prefix: string;
  /** Keys under the prefix whose rest matches `pattern` (a SCAN glob). */
  countKeys(pattern?: string): Promise<number>;
  /** Deletes every key under the prefix. */
  clear(): Promise<void>;
}

const SCAN_BATCH = 1_000;

/** A key prefix of the benchmark's own on a shared Redis, walked with SCAN (never KEYS). */
export function createRedisNamespace(redisUrl: string, name: string): RedisNamespace {
  const prefix = `keyshop-bench-${name}-${randomBytes(4).toString('hex')}:`;
  const globSafePrefix = prefix.replace(/[*?[\]\\]/g, (character) => `\\${character}`);

  const eachBatch = async (pattern: string, visit: (redis: Redis, keys: string[]) => Promise<unknown>) => {
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(
          cursor,
          'MATCH',
          `${globSafePrefix}${pattern}`,
          'COUNT',
          SCAN_BATCH,
        );
        cursor = next;
        if (keys.length > 0) await visit(redis, keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  };

  return {
    prefix,
    async countKeys(pattern = '*') {
      let count = 0;
      await eachBatch(pattern, async (_redis, keys) => (count += keys.length));
      return count;
    },
    async clear() {
      await eachBatch('*', (redis, keys) => redis.unlink(...keys));
    },
  };
}
