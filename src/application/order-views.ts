import type { LedgerEntry, LedgerEntryType } from '../domain/ledger.js';
import type { Order, OrderStatus } from '../domain/order.js';

/** One line of an order as its owner sees it. `keys` come only with a single order, for its owner. */
export interface OrderItemView {
  gameId: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
  /** Units whose key was delivered. */
  delivered: number;
  /** Units refunded to the wallet. */
  refunded: number;
  keys?: string[];
}

/** An order as JSON carries it (and as the cache keeps it, without keys). */
export interface OrderView {
  id: string;
  status: OrderStatus;
  totalCents: number;
  refundedCents: number;
  currency: string;
  items: OrderItemView[];
  createdAt: string;
  updatedAt: string;
}

export function toOrderView(order: Order): OrderView {
  const items = order.lines.map((line) => {
    const units = order.units.filter((unit) => unit.lineId === line.id);
    return {
      gameId: line.gameId,
      name: line.name,
      quantity: line.quantity,
      unitPriceCents: line.unitPriceCents,
      delivered: units.filter((unit) => unit.state === 'delivered').length,
      refunded: units.filter((unit) => unit.state === 'refunded').length,
    };
  });
  return {
    id: order.id,
    status: order.status,
    totalCents: order.totalCents,
    refundedCents: items.reduce((sum, item) => sum + item.refunded * item.unitPriceCents, 0),
    currency: order.currency,
    items,
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}

/** A ledger entry as JSON carries it. */
export interface LedgerEntryView {
  id: string;
  type: LedgerEntryType;
  amountCents: number;
  balanceAfterCents: number;
  orderId: string | null;
  reference: string | null;
  createdAt: string;
}

export function toLedgerEntryView(entry: LedgerEntry): LedgerEntryView {
  return {
    id: entry.id,
    type: entry.type,
    amountCents: entry.amountCents,
    balanceAfterCents: entry.balanceAfterCents,
    orderId: entry.orderId,
    reference: entry.reference,
    createdAt: entry.createdAt.toISOString(),
  };
}

/** How long a cached order or order list lives; every change of an order deletes both at once. */
export const ORDER_CACHE_TTL_SECONDS = 300;
