import { LRUCache } from 'lru-cache';
import type { CacheInvalidation, CacheRef } from '../../ports/cache.js';

export interface NearCacheOptions {
  maxEntries: number;
  /** Bound on the JSON text held, in UTF-16 code units (about bytes for the catalogue's mostly ASCII JSON). */
  maxBytes: number;
  /** How long an entry is kept at most: what a lost invalidation message could leave behind. */
  ttlMs: number;
  /** Which entries may be kept (the ones every reader shares). */
  admits: (ref: CacheRef) => boolean;
}

/** What a read remembers before it asks Redis, so that a fill which raced an invalidation is not kept. */
export interface NearTicket {
  readonly epoch: number;
  readonly invalidations: number;
}

export type NearCacheCounts = { hits: number; misses: number; kept: number; refused: number; clears: number };

interface NearEntry {
  json: string;
  /** The family's local generation when it was kept (0 for a plain key). */
  generation: number;
}

/**
 * An in-process LRU of JSON text in front of Redis, coherent with it: entries are kept only while the process
 * hears every invalidation (its subscription to the invalidation channel is up, with no message missed) and
 * its Redis guard is closed. Any invalidation it hears drops the entries it names (a family at once, by a local
 * generation) and refuses every fill that started before it; losing the subscription, a gap in the messages'
 * sequence or an open guard clears everything. A short TTL bounds what a message lost without a sign could
 * leave.
 */
export class NearCache {
  private readonly entries: LRUCache<string, NearEntry>;
  private readonly families = new Map<string, number>();
  private readonly admits: (ref: CacheRef) => boolean;
  private readonly ttlMs: number;
  private epoch = 0;
  private invalidations = 0;
  private subscribed = false;
  private redisHealthy = true;
  private readonly counts: NearCacheCounts = { hits: 0, misses: 0, kept: 0, refused: 0, clears: 0 };

  constructor(options: NearCacheOptions) {
    this.admits = options.admits;
    this.ttlMs = options.ttlMs;
    this.entries = new LRUCache<string, NearEntry>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (entry, key) => entry.json.length + key.length,
      ttl: options.ttlMs,
      ttlAutopurge: false,
    });
  }

  /** Whether entries are read and kept now: subscribed and the Redis guard closed. */
  get active(): boolean {
    return this.subscribed && this.redisHealthy;
  }

  get size(): number {
    return this.entries.size;
  }

  stats(): NearCacheCounts {
    return { ...this.counts };
  }

  /** The JSON text kept for `ref`, if any. */
  get(ref: CacheRef): string | undefined {
    if (!this.active || !this.admits(ref)) return undefined;
    const key = nearKey(ref);
    const entry = this.entries.get(key);
    if (entry && entry.generation === this.generationOf(ref)) {
      this.counts.hits += 1;
      return entry.json;
    }
    if (entry) this.entries.delete(key);
    this.counts.misses += 1;
    return undefined;
  }

  /** Taken before Redis is asked; `undefined` when nothing read now may be kept. */
  ticket(ref: CacheRef): NearTicket | undefined {
    if (!this.active || !this.admits(ref)) return undefined;
    return { epoch: this.epoch, invalidations: this.invalidations };
  }

  /** Keeps what Redis answered (or what was filled into it) unless anything was invalidated since `ticket`. */
  keep(ref: CacheRef, json: string, ttlSeconds: number, ticket: NearTicket | undefined): void {
    if (ticket === undefined || ttlSeconds <= 0) return;
    if (!this.active || ticket.epoch !== this.epoch || ticket.invalidations !== this.invalidations) {
      this.counts.refused += 1;
      return;
    }
    this.entries.set(
      nearKey(ref),
      { json, generation: this.generationOf(ref) },
      {
        ttl: Math.min(this.ttlMs, ttlSeconds * 1000),
      },
    );
    this.counts.kept += 1;
  }

  /** Drops what an invalidation names: its keys, and every member of its families. */
  drop(target: CacheInvalidation): void {
    // Carts, wishlists and orders are never kept: their invalidations leave every fill in flight alone.
    const keys = (target.keys ?? []).filter((key) => this.admits({ key }));
    if (keys.length === 0 && (target.families ?? []).length === 0) return;
    this.invalidations += 1;
    for (const key of keys) this.entries.delete(key);
    for (const family of target.families ?? []) {
      this.families.set(family, (this.families.get(family) ?? 0) + 1);
    }
  }

  /** Drops everything and refuses every fill in flight. */
  clear(): void {
    this.epoch += 1;
    if (this.entries.size > 0) this.counts.clears += 1;
    this.entries.clear();
  }

  /** The subscription to the invalidation channel is up (confirmed by Redis) or lost. */
  setSubscribed(subscribed: boolean): void {
    if (subscribed === this.subscribed) return;
    this.subscribed = subscribed;
    this.clear();
  }

  /** The Redis guard is closed (healthy) or not. */
  setRedisHealthy(healthy: boolean): void {
    if (healthy === this.redisHealthy) return;
    this.redisHealthy = healthy;
    this.clear();
  }

  private generationOf(ref: CacheRef): number {
    return 'family' in ref ? (this.families.get(ref.family) ?? 0) : 0;
  }
}

// A family member's key cannot collide with a plain key: those never hold a NUL.
function nearKey(ref: CacheRef): string {
  return 'key' in ref ? ref.key : `${ref.family}\u0000${ref.member}`;
}
