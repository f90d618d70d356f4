import { Redis } from 'ioredis';
import type { Logger } from '../../ports/logger.js';
import { createThrottledWarning } from './throttled-warning.js';

export interface RedisClientOptions {
  /** Prepended to every key (`REDIS_KEY_PREFIX`), so several shops can share one Redis. */
  keyPrefix?: string;
  logger?: Logger;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
}

// Redis is an optional accelerator: a request must never wait long for it, so nothing queues while it is away.
const CONNECT_TIMEOUT_MS = 1_000;
const COMMAND_TIMEOUT_MS = 250;
// Reconnection never gives up, so a Redis that comes back is picked up without a restart.
const RECONNECT_BASE_DELAY_MS = 100;
const RECONNECT_MAX_DELAY_MS = 2_000;

function reconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_BASE_DELAY_MS * 2 ** Math.min(attempt - 1, 10), RECONNECT_MAX_DELAY_MS);
}

/** An ioredis client that fails fast while Redis is unreachable and reconnects in the background. */
export function createRedisClient(url: string, options: RedisClientOptions = {}): Redis {
  const { logger } = options;
  const redis = new Redis(url, {
    keyPrefix: options.keyPrefix ?? '',
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
    commandTimeout: options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS,
    retryStrategy: reconnectDelayMs,
    // Commands issued in one event-loop turn leave in one write: under load, one syscall instead of dozens.
    enableAutoPipelining: true,
  });

  const warnUnreachable = createThrottledWarning(logger);
  let wasUnreachable = false;
  // Without an 'error' listener an unreachable Redis would crash the process.
  redis.on('error', (error: Error) => {
    wasUnreachable = true;
    warnUnreachable({ err: error }, 'redis unreachable; running without it until it returns');
  });
  redis.on('close', () => {
    wasUnreachable = true;
  });
  redis.on('ready', () => {
    if (wasUnreachable) logger?.info('redis reachable again');
    wasUnreachable = false;
  });
  return redis;
}
