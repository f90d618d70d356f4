import type { CartOwner } from '../../domain/cart.js';

/** The column that holds an owner in `cart_items` and `wishlist_items`, and its value. */
export function ownerColumn(owner: CartOwner): { column: 'user_id' | 'session_id'; id: string } {
  return owner.kind === 'user'
    ? { column: 'user_id', id: owner.userId }
    : { column: 'session_id', id: owner.sessionId };
}

/** The owner columns of a new row: exactly one is set, as the table's CHECK demands. */
export function ownerValues(owner: CartOwner): { user_id: string | null; session_id: string | null } {
  return owner.kind === 'user'
    ? { user_id: owner.userId, session_id: null }
    : { user_id: null, session_id: owner.sessionId };
}
