import type {
  Cache,
  CacheFamily,
  CacheHealth,
  CacheInvalidation,
  CacheRef,
  Json,
} from '../../ports/cache.js';

interface Entry {
  version: number;
  json?: string;
  expiresAt: number;
}

export interface InMemoryCacheOptions {
  /** Milliseconds since the epoch; lets tests move time. */
  now?: () => number;
  pendingFillSeconds?: number;
}

/**
 * The `RedisCache` semantics in a Map, for use-case tests: versioned entries, family generations, no stale set,
 * values stored as JSON copies. Set `failing` to make it behave like an unreachable Redis.
 */
export class InMemoryCache implements Cache {
  /** While true: reads load without the cache, invalidations reject, health is 'down'. */
  failing = false;
  /** Every invalidation that succeeded, in order. */
  readonly invalidations: CacheInvalidation[] = [];
  hits = 0;
  misses = 0;
  fillRejections = 0;

  private readonly entries = new Map<string, Entry>();
  private readonly generations = new Map<CacheFamily, number>();
  private readonly now: () => number;
  private readonly pendingFillMs: number;
  private nextVersion = 1;

  constructor(options: InMemoryCacheOptions = {}) {
    this.now = options.now ?? Date.now;
    this.pendingFillMs = (options.pendingFillSeconds ?? 300) * 1000;
  }

  async getOrLoad<T>(ref: CacheRef, ttlSeconds: number, load: () => Promise<T>): Promise<T> {
    if (this.failing) return load();
    const key = this.keyOf(ref);
    const entry = this.liveEntry(key);
    if (entry?.json !== undefined) {
      this.hits += 1;
      return JSON.parse(entry.json) as T;
    }
    this.misses += 1;
    const version = entry?.version ?? this.startEntry(key);
    const value = await load();
    if (this.failing || value === undefined || ttlSeconds <= 0) return value;
    const current = this.keyOf(ref) === key ? this.liveEntry(key) : undefined;
    if (current?.version !== version) {
      this.fillRejections += 1;
      return value;
    }
    current.json = JSON.stringify(value);
    current.expiresAt = this.now() + ttlSeconds * 1000;
    return value;
  }

  async getOrLoadJson<T>(ref: CacheRef, ttlSeconds: number, load: () => Promise<T>): Promise<Json<T>> {
    return JSON.stringify(await this.getOrLoad(ref, ttlSeconds, load)) as Json<T>;
  }

  async invalidate(target: CacheInvalidation): Promise<void> {
    if (this.failing) throw new Error('cache unreachable');
    for (const key of target.keys ?? []) this.entries.delete(key);
    for (const family of new Set(target.families ?? [])) {
      this.generations.set(family, this.generationOf(family) + 1);
    }
    this.invalidations.push(target);
  }

  async health(): Promise<CacheHealth> {
    return this.failing ? 'down' : 'ok';
  }

  /** The cached value, without loading; undefined when absent. */
  peek<T>(ref: CacheRef): T | undefined {
    const json = this.liveEntry(this.keyOf(ref))?.json;
    return json === undefined ? undefined : (JSON.parse(json) as T);
  }

  /** The key a ref reads under the current generation, as Redis would name it. */
  keyOf(ref: CacheRef): string {
    if ('key' in ref) return ref.key;
    const generation = this.generationOf(ref.family);
    return ref.family === 'home' ? `home:${generation}` : `${ref.family}:${generation}:${ref.member}`;
  }

  private generationOf(family: CacheFamily): number {
    return this.generations.get(family) ?? 0;
  }

  private liveEntry(key: string): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private startEntry(key: string): number {
    const version = this.nextVersion++;
    this.entries.set(key, { version, expiresAt: this.now() + this.pendingFillMs });
    return version;
  }
}
