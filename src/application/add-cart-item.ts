import {
  assertCartQuantity,
  cartCacheKey,
  cartOf,
  MAX_QTY_PER_GAME,
  type Cart,
  type CartOwner,
} from '../domain/cart.js';
import { DomainError } from '../domain/errors.js';
import { isInStock } from '../domain/game.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { lockCartOwner } from './lock-cart-owner.js';

export interface AddCartItemInput {
  owner: CartOwner;
  gameId: string;
  quantity: number;
}

export interface AddCartItemOutput {
  cart: Cart;
  /** True when the cart had no line of this game before. */
  created: boolean;
}

/**
 * Adds units of a game to the owner's cart (a new line or more of an existing one). The game must exist
 * (GAME_NOT_FOUND) and be in stock (OUT_OF_STOCK); a result above the per-game maximum changes nothing
 * (QUANTITY_LIMIT), also when concurrent adds race for the last units.
 */
export async function addCartItem(
  deps: { uow: UnitOfWork },
  input: AddCartItemInput,
): Promise<AddCartItemOutput> {
  assertCartQuantity(input.quantity);
  return deps.uow.run(async (scope) => {
    await lockCartOwner(scope, input.owner);
    const game = await scope.carts.findGameAvailability(input.gameId);
    if (!game) throw new DomainError('GAME_NOT_FOUND', 'no such game');
    if (!isInStock(game)) throw new DomainError('OUT_OF_STOCK', 'this game cannot be bought right now');
    const added = await scope.carts.add(input.owner, input.gameId, input.quantity, MAX_QTY_PER_GAME);
    if (!added) {
      throw new DomainError(
        'QUANTITY_LIMIT',
        `at most ${MAX_QTY_PER_GAME} units of one game per cart; the cart was not changed`,
        { field: 'quantity' },
      );
    }
    await scope.outbox.invalidate({ keys: [cartCacheKey(input.owner)] });
    return { cart: cartOf(await scope.carts.lines(input.owner)), created: added.created };
  });
}
