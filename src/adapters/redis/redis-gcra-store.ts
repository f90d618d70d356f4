import type { Redis } from 'ioredis';
import type { G2APriority, GcraShape, GcraStore } from '../g2a/g2a-rate-limiter.js';
import { DEMAND_TTL_MS } from '../g2a/g2a-rate-limiter.js';
import { LuaScript } from './lua-script.js';

// KEYS[1] theoretical arrival time, KEYS[2] the sync's own arrival time while it yields, KEYS[3] fulfilment's
// demand. ARGV: interval, tolerance, priority, yield interval, demand ttl (ms). Times come from Redis' clock,
// the one clock every process shares. Answers 0 (granted) or the milliseconds to wait.
const ACQUIRE = new LuaScript(`
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
if ARGV[3] == 'fulfilment' then redis.call('SET', KEYS[3], '1', 'PX', ARGV[5]) end
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
if ARGV[3] == 'sync' and redis.call('EXISTS', KEYS[3]) == 1 then
  local yieldInterval = tonumber(ARGV[4])
  local own = math.max(tonumber(redis.call('GET', KEYS[2]) or now), now)
  if own > now then return math.ceil(own - now) end
  redis.call('SET', KEYS[2], tostring(own + yieldInterval), 'PX', math.ceil(yieldInterval) + 60000)
end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil(tolerance + interval) + 60000)
return 0
`);

export const G2A_RATE_KEYS = ['g2a:rate:tat', 'g2a:rate:sync-tat', 'g2a:rate:demand'];

/** The shared G2A rate in Redis: one Lua script per request, on Redis' clock. */
export class RedisGcraStore implements GcraStore {
  constructor(private readonly redis: Redis) {}

  async tryAcquire(priority: G2APriority, shape: GcraShape): Promise<number> {
    const wait = await ACQUIRE.run(this.redis, G2A_RATE_KEYS, [
      shape.intervalMs,
      shape.toleranceMs,
      priority,
      shape.yieldIntervalMs,
      DEMAND_TTL_MS,
    ]);
    return Number(wait);
  }
}
