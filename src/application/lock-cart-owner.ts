import type { CartOwner } from '../domain/cart.js';
import { DomainError } from '../domain/errors.js';
import type { TransactionScope } from '../ports/unit-of-work.js';

/**
 * Every cart or wishlist change starts here: it shares the owner's row lock, which a sign-in merge of the same
 * owner holds exclusively — so a change waits for a running merge instead of slipping past it, and the two
 * never lock lines in opposite orders.
 */
export async function lockCartOwner(scope: Pick<TransactionScope, 'carts'>, owner: CartOwner): Promise<void> {
  if (await scope.carts.lockOwner(owner)) return;
  throw owner.kind === 'guest'
    ? new DomainError('SESSION_REQUIRED', 'the guest session is unknown or expired')
    : new DomainError('UNAUTHORIZED', 'the account of this token no longer exists');
}
