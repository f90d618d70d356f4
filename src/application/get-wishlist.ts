import { wishlistCacheKey, type CartOwner } from '../domain/cart.js';
import type { Page } from '../domain/game.js';
import type { WishlistEntry } from '../domain/wishlist.js';
import type { Cache } from '../ports/cache.js';
import type { WishlistReader } from '../ports/carts.js';
import { CART_CACHE_TTL_SECONDS } from './cart-cache.js';

export interface GetWishlistInput {
  owner: CartOwner;
  page: number;
  pageSize: number;
}

/** A wishlist entry as JSON carries it (and as the cache keeps it): the date as ISO 8601 text. */
export type WishlistItem = Omit<WishlistEntry, 'addedAt'> & { addedAt: string };

export type GetWishlistOutput = Page<WishlistItem>;

export interface GetWishlistDeps {
  wishlists: WishlistReader;
  cache: Cache;
}

/**
 * One page of the owner's wishlist, newest first, with current prices and availability. The whole wishlist is
 * cached under `user:{id}:wishlist` or `session:{id}:wishlist`; pages are cut from it.
 */
export async function getWishlist(
  deps: GetWishlistDeps,
  input: GetWishlistInput,
): Promise<GetWishlistOutput> {
  const items = await deps.cache.getOrLoad(
    { key: wishlistCacheKey(input.owner) },
    CART_CACHE_TTL_SECONDS,
    async (): Promise<WishlistItem[]> =>
      (await deps.wishlists.entries(input.owner)).map((entry) => ({
        ...entry,
        addedAt: entry.addedAt.toISOString(),
      })),
  );
  const start = (input.page - 1) * input.pageSize;
  return {
    items: items.slice(start, start + input.pageSize),
    page: input.page,
    pageSize: input.pageSize,
    total: items.length,
  };
}
