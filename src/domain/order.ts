import { MAX_QTY_PER_GAME } from './cart.js';
import { DomainError } from './errors.js';

/**
 * An order's life: `paid` at checkout, `processing` once fulfilment started, and when every unit reached an
 * end, `completed` (all delivered), `refunded` (none delivered) or `partially_refunded` (some of each).
 */
export type OrderStatus = 'paid' | 'processing' | 'completed' | 'partially_refunded' | 'refunded';

/**
 * One unit (one key) of an order line: `pending` until G2A has an order for it, `ordered` (G2A order id
 * stored), `paid` (G2A paid), `delivered` (key stored), or `failed` then `refunded`.
 */
export type OrderUnitState = 'pending' | 'ordered' | 'paid' | 'delivered' | 'failed' | 'refunded';

export const ORDER_STATUSES: readonly OrderStatus[] = [
  'paid',
  'processing',
  'completed',
  'partially_refunded',
  'refunded',
];

/** Units whose purchase has not reached an end. */
export const OPEN_UNIT_STATES: readonly OrderUnitState[] = ['pending', 'ordered', 'paid', 'failed'];

/** The statuses an order may come from to reach each status; nothing else moves (no way back). */
export const ORDER_PREDECESSORS: Record<OrderStatus, readonly OrderStatus[]> = {
  paid: [],
  processing: ['paid'],
  completed: ['paid', 'processing'],
  partially_refunded: ['paid', 'processing', 'completed', 'partially_refunded'],
  refunded: ['paid', 'processing', 'completed', 'partially_refunded'],
};

export function canMoveOrder(from: OrderStatus, to: OrderStatus): boolean {
  return ORDER_PREDECESSORS[to].includes(from);
}

/** The status the units of an order add up to. */
export function orderStatusFor(units: readonly OrderUnitState[]): OrderStatus {
  const delivered = units.filter((state) => state === 'delivered').length;
  const refunded = units.filter((state) => state === 'refunded').length;
  if (delivered + refunded === units.length) {
    if (refunded === 0) return 'completed';
    return delivered === 0 ? 'refunded' : 'partially_refunded';
  }
  return units.every((state) => state === 'pending') ? 'paid' : 'processing';
}

/** At most this many different games in one order. */
export const MAX_ORDER_LINES = 50;

export interface OrderItemRequest {
  gameId: string;
  quantity: number;
}

/** An explicit item list: one entry per game, whole quantities of 1 to the per-game maximum. */
export function assertOrderItems(items: readonly OrderItemRequest[]): void {
  if (items.length === 0) throw new DomainError('CART_EMPTY', 'the order has no items');
  if (items.length > MAX_ORDER_LINES) {
    throw new DomainError('VALIDATION_FAILED', `an order holds at most ${MAX_ORDER_LINES} different games`, {
      field: 'items',
    });
  }
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.gameId)) {
      throw new DomainError(
        'VALIDATION_FAILED',
        `game ${item.gameId} is listed twice; give its quantity once`,
        {
          field: 'items',
        },
      );
    }
    seen.add(item.gameId);
    if (!Number.isInteger(item.quantity) || item.quantity < 1) {
      throw new DomainError('VALIDATION_FAILED', 'quantity must be a whole number of at least 1', {
        field: 'items.quantity',
      });
    }
    if (item.quantity > MAX_QTY_PER_GAME) {
      throw new DomainError('QUANTITY_LIMIT', `at most ${MAX_QTY_PER_GAME} units of one game per order`, {
        field: 'items.quantity',
      });
    }
  }
}

/** A game as checkout finds it, under a share lock: what it costs now and whether it can be sold. */
export interface GameForSale {
  id: string;
  name: string;
  g2aProductId: string;
  priceCents: number;
  costCents: number;
  qty: number;
  availableToBuy: boolean;
  delisted: boolean;
}

/** Why a game of an order cannot be sold now. */
export interface UnavailableGame {
  gameId: string;
  reason: 'out_of_stock' | 'delisted' | 'insufficient_stock';
  requested: number;
  available: number;
}

/** The games of an order that cannot be sold in the quantities asked for. */
export function unavailableGames(
  items: readonly OrderItemRequest[],
  games: ReadonlyMap<string, GameForSale>,
): UnavailableGame[] {
  const unavailable: UnavailableGame[] = [];
  for (const item of items) {
    const game = games.get(item.gameId);
    if (!game) continue;
    const available = game.delisted || !game.availableToBuy ? 0 : Math.max(0, game.qty);
    if (available >= item.quantity) continue;
    unavailable.push({
      gameId: item.gameId,
      reason: game.delisted ? 'delisted' : available === 0 ? 'out_of_stock' : 'insufficient_stock',
      requested: item.quantity,
      available,
    });
  }
  return unavailable;
}

/** The amount an order charges: every line at the price it was checked out at, in cents. */
export function orderTotalCents(lines: readonly { quantity: number; unitPriceCents: number }[]): number {
  return lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
}

export interface OrderLine {
  id: string;
  position: number;
  gameId: string;
  /** The game's name at checkout. */
  name: string;
  g2aProductId: string;
  quantity: number;
  /** What the shopper paid for one unit. */
  unitPriceCents: number;
  /** What one unit cost at G2A at checkout: the most fulfilment pays for it (`max_price`). */
  unitCostCents: number;
}

export interface OrderUnit {
  id: string;
  lineId: string;
  state: OrderUnitState;
}

export interface Order {
  id: string;
  userId: string;
  status: OrderStatus;
  totalCents: number;
  currency: string;
  source: 'cart' | 'items';
  createdAt: Date;
  updatedAt: Date;
  lines: OrderLine[];
  units: OrderUnit[];
}

/** The units an admin refund takes: every unit not refunded yet, or with `all: false` only undelivered ones. */
export function refundableUnits(order: Pick<Order, 'units'>, all: boolean): OrderUnit[] {
  return order.units.filter((unit) => unit.state !== 'refunded' && (all || unit.state !== 'delivered'));
}
