import { cacheKeys } from '../domain/cache-keys.js';
import type { TransactionScope } from '../ports/unit-of-work.js';

/** Writes, in the caller's transaction, the invalidations of a changed order: the order and its owner's list. */
export async function invalidateOrder(
  scope: Pick<TransactionScope, 'outbox'>,
  order: { id: string; userId: string },
  extraKeys: string[] = [],
): Promise<void> {
  await scope.outbox.invalidate({
    keys: [cacheKeys.order(order.id), cacheKeys.userOrders(order.userId), ...extraKeys],
  });
}
