import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type {
  Cache,
  CacheFamily,
  CacheHealth,
  CacheInvalidation,
  CacheRef,
  Json,
} from '../../ports/cache.js';
import type { Logger } from '../../ports/logger.js';
import {
  INVALIDATION_SEQUENCE_KEY,
  invalidationChannel,
  invalidationMessageBody,
} from './invalidation-feed.js';
import { LuaScript } from './lua-script.js';
import type { NearCache } from './near-cache.js';
import { RedisGuard } from './redis-guard.js';
import { createThrottledWarning, type ThrottledWarning } from './throttled-warning.js';

export interface RedisCacheOptions {
  logger?: Logger;
  /** How long a missed entry waits for its fill; a slower load only loses its fill. */
  pendingFillSeconds?: number;
  /** The process's one guard of Redis calls; without it the cache keeps one of its own. */
  guard?: RedisGuard;
  /** Whether entries may be read now (no invalidation waiting that should have removed them); always, without. */
  trust?: { readonly trusted: boolean };
  /** For a guard of its own: how long it stays open before it lets one trial call through. */
  breaker?: { resetTimeoutMs?: number };
  /** Entries kept in this process's memory in front of Redis (kept coherent by an `InvalidationFeed`). */
  near?: NearCache;
  /** For tests: the jitter source, 0 ≤ random() < 1. */
  random?: () => number;
}

// Long enough for any load to finish; short, because every miss (an unknown id too) leaves one behind.
const PENDING_FILL_SECONDS = 30;
const TTL_JITTER = 0.1;
// Keeps one invalidation script short enough not to stall Redis for other clients.
const INVALIDATION_CHUNK = 500;

// A fresh counter starts from the Redis clock in microseconds, so a counter lost to eviction never comes back
// at a value whose member keys may still hold entries.
const FRESH_GENERATION_LUA = `
local function freshGeneration()
  local now = redis.call('TIME')
  return now[1] .. string.format('%06d', tonumber(now[2]))
end
`;

// KEYS[1] entry; ARGV[1] version for a new entry, ARGV[2] how long a new entry waits for its fill (ms).
const READ_ENTRY = new LuaScript(`
local entry = redis.call('HMGET', KEYS[1], 'v', 'd')
if entry[2] then return {'hit', entry[2]} end
if entry[1] then return {'miss', entry[1]} end
redis.call('HSET', KEYS[1], 'v', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'miss', ARGV[1]}
`);

// KEYS[1] entry; ARGV[1] version seen at the miss, ARGV[2] value, ARGV[3] ttl (ms).
const FILL_ENTRY = new LuaScript(`
if redis.call('HGET', KEYS[1], 'v') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`);

// KEYS[1] generation counter; ARGV[1] and ARGV[2] the member key before and after the generation. The member
// key is built here, so that the generation and the member are read in one round trip.
const READ_MEMBER = new LuaScript(`${FRESH_GENERATION_LUA}
local generation = redis.call('GET', KEYS[1])
if not generation then
  generation = freshGeneration()
  redis.call('SET', KEYS[1], generation)
end
return {generation, redis.call('GET', ARGV[1] .. generation .. ARGV[2])}
`);

// KEYS[1] generation counter, KEYS[2] member; ARGV[1] generation seen at the miss, ARGV[2] value, ARGV[3] ttl.
const FILL_MEMBER = new LuaScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
`);

// KEYS: entries to delete, then generation counters to bump, then the invalidation sequence; ARGV[1] how many
// entries come first, ARGV[2] the invalidation channel, ARGV[3] the message body. Applied and published in one
// step, numbered, so that a process keeping entries near hears of every invalidation after Redis applied it,
// and notices one it missed.
const INVALIDATE = new LuaScript(`${FRESH_GENERATION_LUA}
local entries = tonumber(ARGV[1])
for i = 1, entries do
  redis.call('DEL', KEYS[i])
end
for i = entries + 1, #KEYS - 1 do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('SET', KEYS[i], freshGeneration())
  end
  redis.call('INCR', KEYS[i])
end
local sequence = redis.call('INCR', KEYS[#KEYS])
redis.call('PUBLISH', ARGV[2], sequence .. ' ' .. ARGV[3])
return #KEYS - 1
`);

type Lookup =
  | { hit: true; json: string }
  | { hit: false; kind: 'entry'; key: string; version: string }
  | { hit: false; kind: 'member'; counterKey: string; memberKey: string; generation: string };

type Miss = Extract<Lookup, { hit: false }>;

function generationKey(family: CacheFamily): string {
  return `${family}:generation`;
}

/** A member key is `before + generation + after`: `catalog:{generation}:{member}` or `home:{generation}`. */
function memberKeyAround(family: CacheFamily, member: string): { before: string; after: string } {
  return { before: `${family}:`, after: family === 'home' ? '' : `:${member}` };
}

/**
 * Cache-aside over Redis without stale sets.
 *
 * A plain key (`game:{id}`) is a hash `{v, d}`: `v` is a random version written by the first reader that
 * misses, `d` the JSON value. A fill stores `d` only while `v` is still the version its reader saw, and an
 * invalidation deletes the hash, so a loader that lost a race with an invalidation finds no hash or another
 * version and stores nothing, however long its load took.
 *
 * A family member lives at `catalog:{generation}:{member}` or `home:{generation}`, with the generation at
 * `catalog:generation` / `home:generation`; invalidating the family increments it, and a fill stores only while
 * the generation is still the one its reader saw.
 *
 * Behind a circuit breaker: while Redis is unreachable reads go straight to `load`, invalidations reject.
 */
export class RedisCache implements Cache {
  private readonly guardian: RedisGuard;
  private readonly ownsGuard: boolean;
  private readonly warn: ThrottledWarning;
  private readonly pendingFillMs: number;
  private readonly random: () => number;
  private readonly trust: { readonly trusted: boolean } | undefined;
  private readonly near: NearCache | undefined;
  private readonly channel: string;
  private hitCount = 0;
  private bypassCount = 0;
  private missCount = 0;
  private fillRejectionCount = 0;
  private failureCount = 0;
  private readonly versionPrefix = randomBytes(9).toString('base64url');
  private versionCounter = 0;

  constructor(
    private readonly redis: Redis,
    options: RedisCacheOptions = {},
  ) {
    this.warn = createThrottledWarning(options.logger);
    this.pendingFillMs = (options.pendingFillSeconds ?? PENDING_FILL_SECONDS) * 1000;
    this.random = options.random ?? Math.random;
    this.trust = options.trust;
    this.near = options.near;
    this.channel = invalidationChannel(redis.options.keyPrefix ?? '');
    this.ownsGuard = options.guard === undefined;
    this.guardian =
      options.guard ??
      new RedisGuard({ logger: options.logger, resetTimeoutMs: options.breaker?.resetTimeoutMs });
  }

  get hits(): number {
    return this.hitCount;
  }

  get misses(): number {
    return this.missCount;
  }

  /** Reads answered without the cache because invalidations were waiting to be applied. */
  get bypasses(): number {
    return this.bypassCount;
  }

  /** Fills refused because an invalidation came between the miss and the fill. */
  get fillRejections(): number {
    return this.fillRejectionCount;
  }

  /** Cache calls that failed (Redis unreachable, breaker open) and were answered without the cache. */
  get failures(): number {
    return this.failureCount;
  }

  async getOrLoad<T>(ref: CacheRef, ttlSeconds: number, load: () => Promise<T>): Promise<T> {
    const read = await this.read(ref, ttlSeconds, load);
    return 'json' in read ? (JSON.parse(read.json) as T) : read.value;
  }

  async getOrLoadJson<T>(ref: CacheRef, ttlSeconds: number, load: () => Promise<T>): Promise<Json<T>> {
    const read = await this.read(ref, ttlSeconds, load);
    return ('json' in read ? read.json : JSON.stringify(read.value)) as Json<T>;
  }

  /** A hit answers the stored JSON text; a miss the loaded value (and its text, when it was filled). */
  private async read<T>(
    ref: CacheRef,
    ttlSeconds: number,
    load: () => Promise<T>,
  ): Promise<{ json: string } | { value: T }> {
    if (this.trust && !this.trust.trusted) {
      this.bypassCount += 1;
      return { value: await load() };
    }
    const near = this.near?.get(ref);
    if (near !== undefined) return { json: near };
    const ticket = this.near?.ticket(ref);
    let miss: Miss;
    try {
      const lookup = await this.guard(() => this.lookup(ref));
      if (lookup.hit) {
        this.hitCount += 1;
        this.near?.keep(ref, lookup.json, ttlSeconds, ticket);
        return { json: lookup.json };
      }
      miss = lookup;
    } catch (error) {
      this.failureCount += 1;
      this.warn({ err: error }, 'cache read failed; loading without the cache');
      return { value: await load() };
    }
    this.missCount += 1;
    const value = await load();
    const filled = await this.fill(miss, value, ttlSeconds);
    if (filled === undefined) return { value };
    if (filled.stored) this.near?.keep(ref, filled.json, ttlSeconds, ticket);
    return { json: filled.json };
  }

  async invalidate(target: CacheInvalidation): Promise<void> {
    const keys = [...new Set(target.keys ?? [])];
    const families = [...new Set(target.families ?? [])];
    const counters = families.map(generationKey);
    // Dropped here before and after Redis too, not only when the message comes back: this process's next read
    // sees its own writes, and a fill racing this invalidation is refused.
    this.near?.drop({ keys, families });
    const chunks: string[][] = [];
    for (let start = 0; start < keys.length; start += INVALIDATION_CHUNK) {
      chunks.push(keys.slice(start, start + INVALIDATION_CHUNK));
    }
    if (counters.length > 0 && chunks.length === 0) chunks.push([]);
    for (const [index, chunk] of chunks.entries()) {
      const bumped = index === 0 ? counters : [];
      const message = invalidationMessageBody({ keys: chunk, families: index === 0 ? families : [] });
      await this.guard(() =>
        INVALIDATE.run(
          this.redis,
          [...chunk, ...bumped, INVALIDATION_SEQUENCE_KEY],
          [chunk.length, this.channel, message],
        ),
      );
    }
    this.near?.drop({ keys, families });
  }

  async health(): Promise<CacheHealth> {
    if (this.redis.status !== 'ready') return 'down';
    try {
      await this.guard(() => this.redis.ping());
      return 'ok';
    } catch {
      return 'down';
    }
  }

  /** Stops the timers of a guard of its own; the client and a shared guard belong to whoever created them. */
  shutdown(): void {
    if (this.ownsGuard) this.guardian.shutdown();
  }

  /** Unique across processes (a random prefix per cache) without a random draw per read. */
  private nextVersion(): string {
    this.versionCounter += 1;
    return `${this.versionPrefix}${this.versionCounter.toString(36)}`;
  }

  private guard<R>(operation: () => Promise<R>): Promise<R> {
    return this.guardian.run(operation);
  }

  private async lookup(ref: CacheRef): Promise<Lookup> {
    if ('key' in ref) {
      const version = this.nextVersion();
      const [state, payload] = (await READ_ENTRY.run(
        this.redis,
        [ref.key],
        [version, this.pendingFillMs],
      )) as ['hit' | 'miss', string];
      return state === 'hit'
        ? { hit: true, json: payload }
        : { hit: false, kind: 'entry', key: ref.key, version: payload };
    }
    const counterKey = generationKey(ref.family);
    const { before, after } = memberKeyAround(ref.family, ref.member);
    const keyPrefix = this.redis.options.keyPrefix ?? '';
    const [generation, json] = (await READ_MEMBER.run(
      this.redis,
      [counterKey],
      [keyPrefix + before, after],
    )) as [string, string | null];
    if (json !== null) return { hit: true, json };
    return { hit: false, kind: 'member', counterKey, memberKey: before + generation + after, generation };
  }

  /**
   * Stores the value unless an invalidation came since the miss; answers its JSON text when it has one, and
   * whether Redis took it.
   */
  private async fill(
    miss: Miss,
    value: unknown,
    ttlSeconds: number,
  ): Promise<{ json: string; stored: boolean } | undefined> {
    if (value === undefined) return undefined;
    const json = JSON.stringify(value);
    if (ttlSeconds <= 0) return { json, stored: false };
    try {
      const ttlMs = Math.round(ttlSeconds * 1000 * (1 + TTL_JITTER * this.random()));
      const stored =
        miss.kind === 'entry'
          ? await this.guard(() => FILL_ENTRY.run(this.redis, [miss.key], [miss.version, json, ttlMs]))
          : await this.guard(() =>
              FILL_MEMBER.run(this.redis, [miss.counterKey, miss.memberKey], [miss.generation, json, ttlMs]),
            );
      if (stored !== 1) this.fillRejectionCount += 1;
      return { json, stored: stored === 1 };
    } catch (error) {
      this.failureCount += 1;
      this.warn({ err: error }, 'cache fill failed');
      return { json, stored: false };
    }
  }
}
