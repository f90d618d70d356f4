import { cacheKeys } from '../domain/cache-keys.js';
import type { TaxonomyRef } from '../domain/game.js';
import type { Cache } from '../ports/cache.js';
import type { CatalogReader, TaxonomyKind } from '../ports/catalog.js';

export const TAXONOMY_TTL_SECONDS = 3600;

export async function listTaxonomy(
  deps: { catalog: CatalogReader; cache: Cache },
  kind: TaxonomyKind,
): Promise<TaxonomyRef[]> {
  return deps.cache.getOrLoad({ key: cacheKeys.taxonomy(kind) }, TAXONOMY_TTL_SECONDS, () =>
    deps.catalog.taxonomy(kind),
  );
}
