/** The cache keys of the shop (SPEC §4), in one place so writers and invalidators agree. */
export const cacheKeys = {
  game: (id: string) => `game:${id}`,
  userCart: (userId: string) => `user:${userId}:cart`,
  userWishlist: (userId: string) => `user:${userId}:wishlist`,
  userOrders: (userId: string) => `user:${userId}:orders`,
  order: (orderId: string) => `order:${orderId}`,
  sessionCart: (sessionId: string) => `session:${sessionId}:cart`,
  sessionWishlist: (sessionId: string) => `session:${sessionId}:wishlist`,
  taxonomy: (kind: 'categories' | 'genres' | 'platforms') => `taxonomy:${kind}`,
};

/**
 * Whether an entry is the same for every reader (the catalogue: games, taxonomy, the catalogue and home
 * families), and so may be kept in a process's memory beside Redis. Carts, wishlists and orders are not.
 */
export function isSharedEntry(ref: { key: string } | { family: string }): boolean {
  return 'family' in ref || ref.key.startsWith('game:') || ref.key.startsWith('taxonomy:');
}
