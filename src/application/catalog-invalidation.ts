import { cartCacheKey, wishlistCacheKey } from '../domain/cart.js';
import { cacheKeys } from '../domain/cache-keys.js';
import type { CatalogChanges } from '../ports/catalog.js';
import type { TransactionScope } from '../ports/unit-of-work.js';

/**
 * Writes, in the caller's transaction, the invalidations a catalogue change needs: the changed games, the
 * catalogue and home families, taxonomy lists when one grew, and the carts and wishlists that show those games.
 */
export async function invalidateCatalogChanges(
  scope: TransactionScope,
  changes: CatalogChanges,
): Promise<void> {
  const gameIds = changes.changedGameIds;
  if (gameIds.length === 0 && !changes.taxonomyChanged) return;
  const keys = gameIds.map(cacheKeys.game);
  if (changes.taxonomyChanged) keys.push(cacheKeys.taxonomy('categories'), cacheKeys.taxonomy('platforms'));
  if (gameIds.length > 0) {
    const holders = await scope.carts.holdersOf(gameIds);
    keys.push(...holders.carts.map(cartCacheKey), ...holders.wishlists.map(wishlistCacheKey));
  }
  await scope.outbox.invalidate({ keys, families: ['catalog', 'home'] });
}
