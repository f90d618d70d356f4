import { addCartItem, type AddCartItemInput } from '../application/add-cart-item.js';
import { addWishlistItem, type AddWishlistItemInput } from '../application/add-wishlist-item.js';
import { clearCart } from '../application/clear-cart.js';
import { deleteExpiredGuestSessions } from '../application/delete-expired-guest-sessions.js';
import { getCart } from '../application/get-cart.js';
import { getWishlist, type GetWishlistInput } from '../application/get-wishlist.js';
import { mergeGuestIntoUser, type MergeGuest } from '../application/merge-guest-into-user.js';
import { removeCartItem, type RemoveCartItemInput } from '../application/remove-cart-item.js';
import { removeWishlistItem, type RemoveWishlistItemInput } from '../application/remove-wishlist-item.js';
import { setCartItemQuantity, type SetCartItemQuantityInput } from '../application/set-cart-item-quantity.js';
import type { CartOwner } from '../domain/cart.js';
import type { Logger } from '../ports/logger.js';
import type { Infrastructure } from './infrastructure.js';

/** Carts and wishlists of users and guests, their sign-in merge and the cleanup of expired guest sessions. */
export function cartsFeature(infra: Infrastructure) {
  const { uow, cache, clock, readers } = infra;
  return {
    /** The merge as the sign-in use cases call it, logging to the request's logger. */
    mergeGuestLoggingTo:
      (log: Logger): MergeGuest =>
      (input) =>
        mergeGuestIntoUser({ uow, clock, logger: log }, input),
    deleteExpiredGuestSessions: () =>
      deleteExpiredGuestSessions({ guestSessions: readers.guestSessions, clock, logger: infra.logger }),
    useCases: {
      getCart: (owner: CartOwner) => getCart({ carts: readers.carts, cache }, owner),
      addCartItem: (input: AddCartItemInput) => addCartItem({ uow }, input),
      setCartItemQuantity: (input: SetCartItemQuantityInput) => setCartItemQuantity({ uow }, input),
      removeCartItem: (input: RemoveCartItemInput) => removeCartItem({ uow }, input),
      clearCart: (owner: CartOwner) => clearCart({ uow }, owner),
      getWishlist: (input: GetWishlistInput) => getWishlist({ wishlists: readers.wishlists, cache }, input),
      addWishlistItem: (input: AddWishlistItemInput) => addWishlistItem({ uow }, input),
      removeWishlistItem: (input: RemoveWishlistItemInput) => removeWishlistItem({ uow }, input),
    },
  };
}
