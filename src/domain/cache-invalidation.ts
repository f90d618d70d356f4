/** The families whose members are invalidated together by bumping a generation counter. */
export type CacheFamily = 'catalog' | 'home';

/** What one invalidation removes: keys deleted, families bumped to a new generation. */
export interface CacheInvalidation {
  keys?: string[];
  families?: CacheFamily[];
}

/** One invalidation doing the work of many: every key and family once. */
export function mergeInvalidations(invalidations: CacheInvalidation[]): CacheInvalidation {
  return {
    keys: [...new Set(invalidations.flatMap((i) => i.keys ?? []))],
    families: [...new Set(invalidations.flatMap((i) => i.families ?? []))],
  };
}
