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
