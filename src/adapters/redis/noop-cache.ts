import type { Cache, CacheHealth, CacheInvalidation, CacheRef, Json } from '../../ports/cache.js';

/** The cache when no Redis is configured: every read loads, there is nothing to invalidate. */
export class NoopCache implements Cache {
  getOrLoad<T>(_ref: CacheRef, _ttlSeconds: number, load: () => Promise<T>): Promise<T> {
    return load();
  }

  async getOrLoadJson<T>(_ref: CacheRef, _ttlSeconds: number, load: () => Promise<T>): Promise<Json<T>> {
    return JSON.stringify(await load()) as Json<T>;
  }

  async invalidate(_target: CacheInvalidation): Promise<void> {}

  async health(): Promise<CacheHealth> {
    return 'disabled';
  }
}
