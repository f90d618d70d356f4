import { wishlistCacheKey, type CartOwner } from '../domain/cart.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { lockCartOwner } from './lock-cart-owner.js';

export interface RemoveWishlistItemInput {
  owner: CartOwner;
  gameId: string;
}

/** Takes a game off the wishlist, idempotently. */
export async function removeWishlistItem(
  deps: { uow: UnitOfWork },
  input: RemoveWishlistItemInput,
): Promise<void> {
  await deps.uow.run(async (scope) => {
    await lockCartOwner(scope, input.owner);
    const removed = await scope.wishlists.remove(input.owner, [input.gameId]);
    if (removed > 0) await scope.outbox.invalidate({ keys: [wishlistCacheKey(input.owner)] });
  });
}
