import { cacheKeys } from '../domain/cache-keys.js';
import type { Page } from '../domain/game.js';
import type { Cache } from '../ports/cache.js';
import type { OrderReader } from '../ports/orders.js';
import { ORDER_CACHE_TTL_SECONDS, toOrderView, type OrderView } from './order-views.js';

export interface ListOrdersInput {
  userId: string;
  page: number;
  pageSize: number;
}

/**
 * One page of the user's orders, newest first, without keys (those come with a single order). The whole list
 * is cached under `user:{id}:orders`, which every change of one of the orders deletes; pages are cut from it.
 */
export async function listOrders(
  deps: { orders: OrderReader; cache: Cache },
  input: ListOrdersInput,
): Promise<Page<OrderView>> {
  const orders = await deps.cache.getOrLoad(
    { key: cacheKeys.userOrders(input.userId) },
    ORDER_CACHE_TTL_SECONDS,
    async () => (await deps.orders.listByUser(input.userId)).map(toOrderView),
  );
  const start = (input.page - 1) * input.pageSize;
  return {
    items: orders.slice(start, start + input.pageSize),
    page: input.page,
    pageSize: input.pageSize,
    total: orders.length,
  };
}
