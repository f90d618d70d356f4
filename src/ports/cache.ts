import type { CacheFamily, CacheInvalidation } from '../domain/cache-invalidation.js';

export type { CacheFamily, CacheInvalidation } from '../domain/cache-invalidation.js';

/** What a cache-aside read is about: a plain key (`game:{id}`) or a member of a family (`catalog:{gen}:{hash}`). */
export type CacheRef = { key: string } | { family: CacheFamily; member: string };

export type CacheHealth = 'ok' | 'down' | 'disabled';

/** The JSON text of a `T`: what a cache stores, and what an HTTP answer can carry without re-encoding. */
export type Json<T> = string & { readonly __jsonOf?: T };

/**
 * A cache that may vanish at any time. Reads never fail because of it; invalidations report failure so the
 * outbox can retry them.
 */
export interface Cache {
  /**
   * Cache-aside: answers the cached value, or loads it and fills the cache unless an invalidation of the same
   * key or family happened after the miss (no stale set). Cache failures fall back to `load`.
   */
  getOrLoad<T>(ref: CacheRef, ttlSeconds: number, load: () => Promise<T>): Promise<T>;
  /**
   * `getOrLoad` answering the value's JSON text: a hit is passed on as stored, never parsed and encoded again
   * (the hot path of catalogue reads).
   */
  getOrLoadJson<T>(ref: CacheRef, ttlSeconds: number, load: () => Promise<T>): Promise<Json<T>>;
  /** Deletes keys and bumps families; rejects when the cache is unreachable. Idempotent. */
  invalidate(target: CacheInvalidation): Promise<void>;
  health(): Promise<CacheHealth>;
}
