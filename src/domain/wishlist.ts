/** A wishlisted game as it is now; out-of-stock and delisted games stay wishlisted. */
export interface WishlistEntry {
  gameId: string;
  name: string;
  slug: string;
  thumbnail: string | null;
  priceCents: number;
  currency: string;
  inStock: boolean;
  delisted: boolean;
  addedAt: Date;
}

export type WishlistMergeSkipReason = 'already_in_wishlist';

export interface WishlistMergePlan {
  /** Guest entries that join the user's wishlist and leave the guest session. */
  merged: string[];
  /** Guest entries the user already has; they stay on the guest session. */
  skipped: { gameId: string; reason: WishlistMergeSkipReason }[];
}

/** The wishlist merge of a sign-in: every guest entry joins, except games the user already wishlisted. */
export function planWishlistMerge(guestGameIds: string[], userGameIds: string[]): WishlistMergePlan {
  const userHas = new Set(userGameIds);
  const plan: WishlistMergePlan = { merged: [], skipped: [] };
  for (const gameId of guestGameIds) {
    if (userHas.has(gameId)) plan.skipped.push({ gameId, reason: 'already_in_wishlist' });
    else plan.merged.push(gameId);
  }
  return plan;
}
