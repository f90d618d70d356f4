/** How long a cached cart or wishlist lives; every change deletes it at once, so this only bounds memory. */
export const CART_CACHE_TTL_SECONDS = 300;
