import type { OrderUnitState } from './order.js';

/** A unit as fulfilment works it: what to buy at G2A, at most at what cost, and how far it got. */
export interface FulfilmentUnit {
  id: string;
  orderId: string;
  userId: string;
  lineId: string;
  state: OrderUnitState;
  g2aProductId: string;
  /** The G2A cost recorded at checkout: the most G2A may charge (`max_price`). */
  maxPriceCents: number;
  /** What the shopper paid for the unit: what a refund gives back. */
  unitPriceCents: number;
  g2aOrderId: string | null;
  /** A create call left at this time and its answer is not known (a crash, a timeout). */
  createStartedAt: Date | null;
  paidAt: Date | null;
  attempts: number;
  flaggedAt: Date | null;
}

/**
 * What a unit needs next: a G2A order, a wait until an order whose creation went unanswered has lapsed
 * (never a second order while the first may live), payment, or its key.
 */
export type FulfilmentStep = 'create' | 'await_lapse' | 'pay' | 'fetch_key' | 'none';

export function nextFulfilmentStep(unit: Pick<FulfilmentUnit, 'state' | 'createStartedAt'>): FulfilmentStep {
  switch (unit.state) {
    case 'pending':
      return unit.createStartedAt ? 'await_lapse' : 'create';
    case 'ordered':
      return 'pay';
    case 'paid':
      return 'fetch_key';
    default:
      return 'none';
  }
}

/** Units fulfilment still drives on. */
export const FULFILMENT_OPEN_STATES: readonly OrderUnitState[] = ['pending', 'ordered', 'paid'];

/** Delays between attempts of one unit: quick at first (a key is often ready in seconds), then a minute. */
const RETRY_DELAYS_MS = [1_000, 2_000, 5_000, 10_000, 30_000, 60_000];
/** A unit an operator was told about is polled every five minutes. */
export const FLAGGED_RETRY_DELAY_MS = 5 * 60_000;

export function fulfilmentRetryDelayMs(attempts: number, flagged: boolean): number {
  if (flagged) return FLAGGED_RETRY_DELAY_MS;
  return RETRY_DELAYS_MS[Math.min(Math.max(attempts, 0), RETRY_DELAYS_MS.length - 1)]!;
}

/** Why a unit could not be bought and was refunded. */
export type FulfilmentFailure =
  'out_of_stock' | 'price_too_high' | 'payment_refused' | 'product_unknown' | 'rejected';
