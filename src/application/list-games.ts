import { createHash } from 'node:crypto';
import type { CatalogQuery, Page } from '../domain/game.js';
import type { Cache, Json } from '../ports/cache.js';
import type { CatalogReader } from '../ports/catalog.js';
import { toGameView, type GameView } from './catalog-views.js';

export const CATALOG_TTL_SECONDS = 120;

/** Equal queries hash alike whatever the order or presence of their defaults. */
export function catalogQueryHash(query: CatalogQuery): string {
  const normalized = {
    page: query.page,
    pageSize: query.pageSize,
    q: query.q?.trim().toLowerCase() || undefined,
    platform: query.platform,
    region: query.region,
    category: query.category,
    genre: query.genre,
    minPriceCents: query.minPriceCents,
    maxPriceCents: query.maxPriceCents,
    inStock: query.inStock,
    sort: query.sort ?? 'name',
  };
  return createHash('sha1').update(JSON.stringify(normalized)).digest('hex');
}

export async function listGames(
  deps: { catalog: CatalogReader; cache: Cache },
  query: CatalogQuery,
): Promise<Json<Page<GameView>>> {
  const normalized = { ...query, q: query.q?.trim() || undefined };
  return deps.cache.getOrLoadJson(
    { family: 'catalog', member: catalogQueryHash(normalized) },
    CATALOG_TTL_SECONDS,
    async () => {
      const page = await deps.catalog.list(normalized);
      return { ...page, items: page.items.map(toGameView) };
    },
  );
}
