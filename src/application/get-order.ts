import { cacheKeys } from '../domain/cache-keys.js';
import { DomainError } from '../domain/errors.js';
import type { Cache } from '../ports/cache.js';
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

/** One of the user's orders; another user's order is ORDER_NOT_FOUND, as an unknown one is. */
export async function getOrder(
  deps: { orders: OrderReader; cache: Cache },
  input: GetOrderInput,
): Promise<OrderView> {
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
  return cached.order;
}
