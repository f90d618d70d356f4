import { cartCacheKey, type CartOwner } from '../domain/cart.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { lockCartOwner } from './lock-cart-owner.js';

/** Empties the owner's cart; an empty cart stays empty. */
export async function clearCart(deps: { uow: UnitOfWork }, owner: CartOwner): Promise<void> {
  await deps.uow.run(async (scope) => {
    await lockCartOwner(scope, owner);
    const removed = await scope.carts.clear(owner);
    if (removed > 0) await scope.outbox.invalidate({ keys: [cartCacheKey(owner)] });
  });
}
