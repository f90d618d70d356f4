import { DomainError } from '../domain/errors.js';
import { cacheKeys } from '../domain/cache-keys.js';
import type { Cache, Json } from '../ports/cache.js';
import type { CatalogReader } from '../ports/catalog.js';
import { toGameView, type GameView } from './catalog-views.js';

export const GAME_TTL_SECONDS = 300;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const notFound = (idOrSlug: string) => new DomainError('GAME_NOT_FOUND', `no game ${idOrSlug}`);

/** One game by id or slug, delisted ones included (they answer `delisted: true`), as JSON text. */
export async function getGame(
  deps: { catalog: CatalogReader; cache: Cache },
  idOrSlug: string,
): Promise<Json<GameView>> {
  const id = UUID.test(idOrSlug)
    ? idOrSlug.toLowerCase()
    : await deps.cache.getOrLoad(
        { family: 'catalog', member: `slug:${idOrSlug}` },
        GAME_TTL_SECONDS,
        async () => {
          const found = await deps.catalog.findIdBySlug(idOrSlug);
          // Thrown, not returned: an unknown slug must not be cached.
          if (!found) throw notFound(idOrSlug);
          return found;
        },
      );
  return deps.cache.getOrLoadJson({ key: cacheKeys.game(id) }, GAME_TTL_SECONDS, async () => {
    const game = await deps.catalog.findById(id);
    if (!game) throw notFound(idOrSlug);
    return toGameView(game);
  });
}
