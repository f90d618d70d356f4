import { cartCacheKey, cartOf, type Cart, type CartOwner } from '../domain/cart.js';
import type { Cache } from '../ports/cache.js';
import type { CartReader } from '../ports/carts.js';
import { CART_CACHE_TTL_SECONDS } from './cart-cache.js';

export type GetCartOutput = Cart;

export interface GetCartDeps {
  carts: CartReader;
  cache: Cache;
}

/** The owner's cart at current prices, cache-aside under `user:{id}:cart` or `session:{id}:cart`. */
export function getCart(deps: GetCartDeps, owner: CartOwner): Promise<GetCartOutput> {
  return deps.cache.getOrLoad({ key: cartCacheKey(owner) }, CART_CACHE_TTL_SECONDS, async () =>
    cartOf(await deps.carts.lines(owner)),
  );
}
