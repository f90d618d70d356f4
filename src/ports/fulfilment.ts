import type { FulfilmentUnit } from '../domain/fulfilment.js';
import type { OrderUnitState } from '../domain/order.js';
import type { SealedKey } from './key-vault.js';

export type FulfilmentClaim = { unit: FulfilmentUnit } | { outcome: 'busy' | 'closed' };

/** Units as fulfilment changes them; every change is guarded by the worker's lease on the unit. */
export interface FulfilmentRepository {
  /**
   * Leases the unit to `owner` until `until`, unless another worker's lease is live (`busy`) or the unit is
   * at an end (`closed`). The lease, not a row lock, spans the G2A calls: nothing remote happens in a
   * transaction.
   */
  claim(unitId: string, owner: string, now: Date, until: Date): Promise<FulfilmentClaim>;
  /** Extends `owner`'s lease to `until`; false when it was lost (it ran out and another worker took the unit). */
  renewLease(unitId: string, owner: string, until: Date): Promise<boolean>;
  /** Records that a create call is about to leave; false when the lease was lost. */
  markCreateStarted(unitId: string, owner: string, at: Date): Promise<boolean>;
  /** Forgets a create call that G2A answered with an error: it made no order. */
  clearCreateStarted(unitId: string, owner: string): Promise<void>;
  /** pending → ordered with the G2A order id, before anything else happens; false when the unit moved on. */
  recordG2AOrder(unitId: string, owner: string, g2aOrderId: string, priceCents: number): Promise<boolean>;
  /**
   * ordered → paid (`paid`; also when another worker recorded the payment first: the one holding the lease
   * goes on to the key); a unit refunded meanwhile records the payment and stays refunded
   * (`paid_after_refund`: its key is still fetched and kept sealed); `moved_on` otherwise.
   */
  recordPaid(unitId: string, owner: string, at: Date): Promise<'paid' | 'paid_after_refund' | 'moved_on'>;
  /** Whether the unit still waits for its payment (an administrator may have refunded it). */
  stillOrdered(unitId: string): Promise<boolean>;
  /**
   * Stores the key once: `delivered` (paid → delivered), `stored` (kept sealed, but the unit was refunded and
   * its key is never shown) or `kept` (a key was there already and stays).
   */
  storeKey(unitId: string, sealed: SealedKey, at: Date): Promise<'delivered' | 'stored' | 'kept'>;
  /** Notes why a unit was refunded. */
  recordFailure(unitId: string, reason: string): Promise<void>;
  /** Ends the lease: the unit is tried again from `nextAttemptAt`, optionally counting a failed attempt. */
  release(
    unitId: string,
    owner: string,
    change: { nextAttemptAt: Date; error?: string; flag?: string; at: Date },
  ): Promise<void>;
  /** Open units due for an attempt whose lease (if any) ran out, oldest due first. */
  dueUnits(now: Date, limit: number): Promise<string[]>;
}

export interface FulfilmentSummary {
  byState: Record<OrderUnitState, number>;
  oldestOpen: { unitId: string; orderId: string; state: OrderUnitState; ageSeconds: number } | null;
  flagged: {
    unitId: string;
    orderId: string;
    g2aOrderId: string | null;
    state: OrderUnitState;
    reason: string | null;
    flaggedAt: Date;
  }[];
}

/** Reads fulfilment outside a transaction. */
export interface FulfilmentReader {
  summary(now: Date, flaggedLimit: number): Promise<FulfilmentSummary>;
  /** The sealed keys of an order's delivered units, with the game each is for. */
  sealedKeys(orderId: string): Promise<{ unitId: string; gameId: string; sealed: SealedKey }[]>;
}

/** G2A webhook events, deduplicated by their id. */
export interface WebhookEventRepository {
  /** Records an event; false when its id was seen before (nothing else happens then). */
  record(event: { eventId: string; g2aOrderId: string; status: string }): Promise<boolean>;
  /** The unit that holds this G2A order, if one does yet. */
  unitOfG2AOrder(g2aOrderId: string): Promise<string | null>;
  /** Marks the events of a G2A order applied; answers how many were waiting. */
  markApplied(g2aOrderId: string, at: Date): Promise<number>;
}
