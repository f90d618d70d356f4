import { cartCacheKey, type CartOwner } from '../domain/cart.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { lockCartOwner } from './lock-cart-owner.js';

export interface RemoveCartItemInput {
  owner: CartOwner;
  gameId: string;
}

/** Removes the game's line from the cart; removing a line that is not there changes nothing. */
export async function removeCartItem(deps: { uow: UnitOfWork }, input: RemoveCartItemInput): Promise<void> {
  await deps.uow.run(async (scope) => {
    await lockCartOwner(scope, input.owner);
    const removed = await scope.carts.remove(input.owner, [input.gameId]);
    if (removed > 0) await scope.outbox.invalidate({ keys: [cartCacheKey(input.owner)] });
  });
}
