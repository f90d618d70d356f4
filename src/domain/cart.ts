import { cacheKeys } from './cache-keys.js';
import { DomainError } from './errors.js';
import { SHOP_CURRENCY } from './money.js';

/** The most units of one game a cart may hold (`MAX_QTY_PER_GAME`). */
export const MAX_QTY_PER_GAME = 10;

/** Who owns a cart and a wishlist: a signed-in user or a guest session, never both. */
export type CartOwner = { kind: 'user'; userId: string } | { kind: 'guest'; sessionId: string };

/** One cart line with the game as it is now: its current price is the price checkout charges. */
export interface CartLine {
  gameId: string;
  name: string;
  slug: string;
  thumbnail: string | null;
  quantity: number;
  unitPriceCents: number;
  inStock: boolean;
  delisted: boolean;
}

export interface Cart {
  items: (CartLine & { lineTotalCents: number })[];
  totalCents: number;
  currency: string;
}

/** Why a guest cart line stayed on the guest session at sign-in. */
export type CartMergeSkipReason = 'out_of_stock' | 'delisted';

export interface CartMergePlan {
  /** Guest lines that join the user's cart (and leave the guest session), with the user's quantity after. */
  merged: { gameId: string; guestQuantity: number; quantity: number }[];
  /** Guest lines that stay on the guest session. */
  skipped: { gameId: string; reason: CartMergeSkipReason }[];
  /** Merged games whose summed quantity was cut to the per-game maximum. */
  capped: { gameId: string; requested: number; quantity: number }[];
}

export function cartCacheKey(owner: CartOwner): string {
  return owner.kind === 'user' ? cacheKeys.userCart(owner.userId) : cacheKeys.sessionCart(owner.sessionId);
}

export function wishlistCacheKey(owner: CartOwner): string {
  return owner.kind === 'user'
    ? cacheKeys.userWishlist(owner.userId)
    : cacheKeys.sessionWishlist(owner.sessionId);
}

/** A quantity a shopper asks for: below 1 or fractional is malformed, above the maximum breaks the limit. */
export function assertCartQuantity(quantity: number): void {
  if (!Number.isInteger(quantity) || quantity < 1) {
    throw new DomainError('VALIDATION_FAILED', 'quantity must be a whole number of at least 1', {
      field: 'quantity',
    });
  }
  if (quantity > MAX_QTY_PER_GAME) {
    throw new DomainError('QUANTITY_LIMIT', `at most ${MAX_QTY_PER_GAME} units of one game per cart`, {
      field: 'quantity',
    });
  }
}

export function cartOf(lines: CartLine[]): Cart {
  const items = lines.map((line) => ({ ...line, lineTotalCents: line.unitPriceCents * line.quantity }));
  return {
    items,
    totalCents: items.reduce((sum, item) => sum + item.lineTotalCents, 0),
    currency: SHOP_CURRENCY,
  };
}

/**
 * The cart merge of a sign-in: a guest line of a game the shop cannot sell now stays with the guest (reported,
 * never dropped); every other guest line joins the user's cart, summed with the user's own line of the same
 * game and capped at the per-game maximum.
 */
export function planCartMerge(
  guestLines: Pick<CartLine, 'gameId' | 'quantity' | 'inStock' | 'delisted'>[],
  userLines: Pick<CartLine, 'gameId' | 'quantity'>[],
): CartMergePlan {
  const userQuantity = new Map(userLines.map((line) => [line.gameId, line.quantity]));
  const plan: CartMergePlan = { merged: [], skipped: [], capped: [] };
  for (const line of guestLines) {
    if (line.delisted) {
      plan.skipped.push({ gameId: line.gameId, reason: 'delisted' });
      continue;
    }
    if (!line.inStock) {
      plan.skipped.push({ gameId: line.gameId, reason: 'out_of_stock' });
      continue;
    }
    const requested = (userQuantity.get(line.gameId) ?? 0) + line.quantity;
    const quantity = Math.min(requested, MAX_QTY_PER_GAME);
    plan.merged.push({ gameId: line.gameId, guestQuantity: line.quantity, quantity });
    if (quantity < requested) plan.capped.push({ gameId: line.gameId, requested, quantity });
  }
  return plan;
}
