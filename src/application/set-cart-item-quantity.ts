import { assertCartQuantity, cartCacheKey, cartOf, type Cart, type CartOwner } from '../domain/cart.js';
import { DomainError } from '../domain/errors.js';
import { isInStock } from '../domain/game.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { lockCartOwner } from './lock-cart-owner.js';

export interface SetCartItemQuantityInput {
  owner: CartOwner;
  gameId: string;
  quantity: number;
}

export type SetCartItemQuantityOutput = Cart;

/**
 * Sets the quantity of a line already in the cart (CART_ITEM_NOT_FOUND otherwise). Lowering it is always
 * allowed; raising it needs the game in stock (OUT_OF_STOCK), as adding does.
 */
export async function setCartItemQuantity(
  deps: { uow: UnitOfWork },
  input: SetCartItemQuantityInput,
): Promise<SetCartItemQuantityOutput> {
  assertCartQuantity(input.quantity);
  return deps.uow.run(async (scope) => {
    await lockCartOwner(scope, input.owner);
    const game = await scope.carts.findGameAvailability(input.gameId);
    if (!game) throw new DomainError('GAME_NOT_FOUND', 'no such game');
    const previous = await scope.carts.setQuantity(input.owner, input.gameId, input.quantity);
    if (previous === null) throw new DomainError('CART_ITEM_NOT_FOUND', 'this game is not in the cart');
    if (input.quantity > previous && !isInStock(game)) {
      throw new DomainError(
        'OUT_OF_STOCK',
        'this game cannot be bought right now; its quantity can only go down',
      );
    }
    if (input.quantity !== previous) await scope.outbox.invalidate({ keys: [cartCacheKey(input.owner)] });
    return cartOf(await scope.carts.lines(input.owner));
  });
}
