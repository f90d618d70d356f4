import { wishlistCacheKey, type CartOwner } from '../domain/cart.js';
import { DomainError } from '../domain/errors.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { lockCartOwner } from './lock-cart-owner.js';

export interface AddWishlistItemInput {
  owner: CartOwner;
  gameId: string;
}

export interface AddWishlistItemOutput {
  /** False when the game was already wishlisted (nothing changed). */
  added: boolean;
}

/** Wishlists a game, idempotently. Any existing game may be wishlisted, in stock or not. */
export async function addWishlistItem(
  deps: { uow: UnitOfWork },
  input: AddWishlistItemInput,
): Promise<AddWishlistItemOutput> {
  return deps.uow.run(async (scope) => {
    await lockCartOwner(scope, input.owner);
    if (!(await scope.carts.findGameAvailability(input.gameId)))
      throw new DomainError('GAME_NOT_FOUND', 'no such game');
    const added = await scope.wishlists.add(input.owner, input.gameId);
    if (added) await scope.outbox.invalidate({ keys: [wishlistCacheKey(input.owner)] });
    return { added };
  });
}
