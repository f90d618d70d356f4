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
  /** A key is stored (sealed) for the unit. */
  keyStored: boolean;
  /** Failed attempts at the unit's current step (from 0 again once a step is done): its backoff. */
  attempts: number;
  flaggedAt: Date | null;
  /** The unit was taken over from a worker whose lease ran out: it may have been in the middle of a call. */
  takenOver: boolean;
}

/**
 * What a unit needs next: a G2A order, a wait until an order whose creation went unanswered has lapsed
 * (never a second order while the first may live), payment, or its key.
 */
export type FulfilmentStep = 'create' | 'await_lapse' | 'pay' | 'fetch_key' | 'none';

export function nextFulfilmentStep(
  unit: Pick<FulfilmentUnit, 'state' | 'createStartedAt' | 'paidAt' | 'keyStored'>,
): FulfilmentStep {
  switch (unit.state) {
    case 'pending':
      return unit.createStartedAt ? 'await_lapse' : 'create';
    case 'ordered':
      return 'pay';
    case 'paid':
      return 'fetch_key';
    // Refunded after G2A was paid: the key is still fetched and kept sealed (never shown), as the shop paid it.
    case 'refunded':
      return unit.paidAt && !unit.keyStored ? 'fetch_key' : 'none';
    default:
      return 'none';
  }
}

/** Units fulfilment still drives on (and refunded units paid at G2A whose key is not stored yet). */
export const FULFILMENT_OPEN_STATES: readonly OrderUnitState[] = ['pending', 'ordered', 'paid'];

/** G2A order statuses that say the order was paid (`new` is unpaid; anything else is not understood). */
export const G2A_PAID_STATUSES: readonly string[] = ['pending', 'complete', 'completed', 'paid'];

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
