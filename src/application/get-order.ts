import { cacheKeys } from '../domain/cache-keys.js';
import { DomainError } from '../domain/errors.js';
import type { Cache } from '../ports/cache.js';
import type { FulfilmentReader } from '../ports/fulfilment.js';
import type { KeyVault } from '../ports/key-vault.js';
import type { OrderReader } from '../ports/orders.js';
import { ORDER_CACHE_TTL_SECONDS, toOrderView, type OrderView } from './order-views.js';

export interface GetOrderInput {
  userId: string;
  orderId: string;
}

/** What `order:{id}` holds: the order without keys, and whose it is. */
interface CachedOrder {
  userId: string;
  order: OrderView;
}

const notFound = () => new DomainError('ORDER_NOT_FOUND', 'no such order');

export interface GetOrderDeps {
  orders: OrderReader;
  cache: Cache;
  fulfilment: FulfilmentReader;
  vault: KeyVault;
}

/**
 * One of the user's orders, with the keys of its delivered units (refunded units never show theirs). Another
 * user's order is ORDER_NOT_FOUND, as an unknown one is. Keys are opened from the database for the owner on
 * every read: no cache entry holds one.
 */
export async function getOrder(deps: GetOrderDeps, given: GetOrderInput): Promise<OrderView> {
  // An id in capitals is the same order: one cache entry, the one every change of the order deletes.
  const input = { ...given, orderId: given.orderId.toLowerCase() };
  const cached = await deps.cache.getOrLoad(
    { key: cacheKeys.order(input.orderId) },
    ORDER_CACHE_TTL_SECONDS,
    async (): Promise<CachedOrder> => {
      const order = await deps.orders.findById(input.orderId);
      // Thrown, not returned: an unknown order must not be cached.
      if (!order) throw notFound();
      return { userId: order.userId, order: toOrderView(order) };
    },
  );
  if (cached.userId !== input.userId) throw notFound();
  const keys = new Map<string, string[]>();
  for (const { unitId, gameId, sealed } of await deps.fulfilment.sealedKeys(input.orderId)) {
    keys.set(gameId, [...(keys.get(gameId) ?? []), deps.vault.open(sealed, unitId)]);
  }
  return {
    ...cached.order,
    items: cached.order.items.map((item) => ({ ...item, keys: keys.get(item.gameId) ?? [] })),
  };
}
