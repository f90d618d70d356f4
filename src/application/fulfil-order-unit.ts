import { randomUUID } from 'node:crypto';
import { centsToEuros, eurosToCents } from '../domain/money.js';
import {
  G2A_PAID_STATUSES,
  fulfilmentRetryDelayMs,
  nextFulfilmentStep,
  type FulfilmentFailure,
  type FulfilmentStep,
  type FulfilmentUnit,
} from '../domain/fulfilment.js';
import { orderStatusFor, type OrderStatus } from '../domain/order.js';
import type { Clock } from '../ports/clock.js';
import { G2AError, type G2A } from '../ports/g2a.js';
import type { KeyVault } from '../ports/key-vault.js';
import type { Logger } from '../ports/logger.js';
import type { TransactionScope, UnitOfWork } from '../ports/unit-of-work.js';
import { keysReadyEmail } from './emails.js';
import { invalidateOrder } from './order-invalidation.js';

export interface FulfilmentSettings {
  /** How long a worker holds a unit; a worker that died gives it back after this. */
  leaseMs: number;
  /** How long G2A keeps an unpaid order: after it, an order whose creation went unanswered has lapsed. */
  orderReservationMs: number;
  /** How long a paid unit's key may stay "not processed yet" before an operator is told. */
  keyWaitMs: number;
}

export interface FulfilOrderUnitDeps {
  uow: UnitOfWork;
  g2a: G2A;
  vault: KeyVault;
  clock: Clock;
  logger: Logger;
  settings: FulfilmentSettings;
  publicUrl: string;
  /** Counts a finished step by its outcome (a metric). */
  onStep?: (step: FulfilmentStep, outcome: string) => void;
}

/**
 * How far one attempt got: the key was `delivered`, the unit `refunded` (G2A refused it for good), it is
 * `waiting` (tried again later, at a time written on the unit), `busy` (another worker holds it) or `closed`
 * (it had reached an end: delivered, refunded).
 */
export type FulfilOutcome = 'delivered' | 'refunded' | 'waiting' | 'busy' | 'closed';

type StepResult = { next: FulfilmentUnit } | { done: FulfilOutcome };

/**
 * One attempt at a unit: the deps, the unit, the lease owner this attempt holds (another attempt has its own) and
 * when its lease ends (`leaseLost` once a renewal found another worker holding it).
 */
type Attempt = FulfilOrderUnitDeps & { unitId: string; owner: string; leaseUntil: Date; leaseLost?: boolean };

/**
 * Asked right before a call that changes state at G2A leaves: renews the lease from that moment, so the answer is
 * in long before it could end (the G2A timeout is shorter than the lease, as the configuration checks). A
 * request that left after the lease was lost could race the worker that took the unit over: two payments, or
 * the refusal of the second refunding a unit that was paid.
 */
const leaseCheck = (deps: Attempt) => ({
  mayLeave: async () => {
    const until = new Date(deps.clock.now().getTime() + deps.settings.leaseMs);
    if (!(await deps.uow.run((scope) => scope.fulfilment.renewLease(deps.unitId, deps.owner, until)))) {
      deps.leaseLost = true;
      return false;
    }
    deps.leaseUntil = until;
    return true;
  },
});

/**
 * Drives one unit on from where its row says it is: create the G2A order (with `max_price` = the cost
 * recorded at checkout) and store its id before anything else, pay it, fetch the key, seal it and deliver it.
 * Each step commits on its own and is safe to repeat. G2A's own answers decide: a definitive refusal refunds
 * the unit (in the transaction that marks it failed); a payment whose fate is unknown is looked up with the
 * order's details before it is ever tried again; a create whose answer was lost is never followed by a
 * second order until the first has lapsed unpaid. A key not ready is polled with backoff, and after
 * `keyWaitMs` the unit is flagged for an operator (still polled). The worker holds a lease on the unit, not a
 * transaction: nothing remote happens in a transaction.
 */
export async function fulfilOrderUnit(options: FulfilOrderUnitDeps, unitId: string): Promise<FulfilOutcome> {
  const leaseEnd = () => new Date(options.clock.now().getTime() + options.settings.leaseMs);
  const deps: Attempt = { ...options, unitId, owner: randomUUID(), leaseUntil: leaseEnd() };
  const claim = await deps.uow.run((scope) =>
    scope.fulfilment.claim(unitId, deps.owner, deps.clock.now(), deps.leaseUntil),
  );
  if ('outcome' in claim) return claim.outcome;
  let unit = claim.unit;
  for (let step = 0; ; step++) {
    // Each step starts with the lease renewed: a long step before it cannot let another worker in mid-call.
    if (step > 0) {
      const until = leaseEnd();
      if (!(await deps.uow.run((scope) => scope.fulfilment.renewLease(unit.id, deps.owner, until)))) {
        return 'busy';
      }
      deps.leaseUntil = until;
    }
    const next = nextFulfilmentStep(unit);
    const log = deps.logger.child({
      operation: `fulfilment.${next}`,
      orderId: unit.orderId,
      unitId: unit.id,
      g2aOrderId: unit.g2aOrderId,
    });
    const started = performance.now();
    let result: StepResult;
    try {
      result = await STEPS[next](deps, unit, log);
    } catch (error) {
      // Not G2A's answer but ours (the database went away, say): the unit is tried again later.
      log.error({ outcome: 'error', err: error }, 'fulfilment step failed');
      await retryLater(deps, unit, { error: (error as Error).message }).catch(() => undefined);
      throw error;
    }
    const outcome = 'done' in result ? result.done : 'advanced';
    deps.onStep?.(next, outcome);
    log.info(
      {
        outcome,
        g2aOrderId: 'next' in result ? result.next.g2aOrderId : unit.g2aOrderId,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
      },
      `fulfilment ${next}: ${outcome}`,
    );
    if ('done' in result) return result.done;
    unit = result.next;
  }
}

const STEPS: Record<
  FulfilmentStep,
  (deps: Attempt, unit: FulfilmentUnit, log: Logger) => Promise<StepResult>
> = {
  create: createOrder,
  await_lapse: awaitLapse,
  pay: payOrder,
  fetch_key: fetchKey,
  none: async () => ({ done: 'closed' }),
};

async function createOrder(deps: Attempt, unit: FulfilmentUnit, log: Logger): Promise<StepResult> {
  const { uow, clock, owner } = deps;
  const started = clock.now();
  // Written before the call leaves: if this worker dies with the call in flight, the next one knows G2A may
  // hold an order for the unit.
  if (!(await uow.run((scope) => scope.fulfilment.markCreateStarted(unit.id, owner, started)))) {
    return { done: 'busy' };
  }
  let created;
  try {
    created = await deps.g2a.createOrder(
      { productId: unit.g2aProductId, maxPriceEur: centsToEuros(unit.maxPriceCents) },
      leaseCheck(deps),
    );
  } catch (error) {
    if (!(error instanceof G2AError)) throw error;
    // Not sent: another worker holds the unit now.
    if (deps.leaseLost) return { done: 'busy' };
    const failure = definitiveFailure(error, 'create');
    if (failure) return { done: await refundUnit(deps, unit, failure, log) };
    if (!error.mayHaveActed) {
      await uow.run((scope) => scope.fulfilment.clearCreateStarted(unit.id, owner));
      return { done: await retryLater(deps, unit, { error: error.message, flag: flagFor(error) }) };
    }
    log.warn({ outcome: 'unknown', err: error.message }, 'G2A may have made an order whose answer was lost');
    return {
      done: await retryLater(deps, unit, {
        error: error.message,
        at: new Date(started.getTime() + deps.settings.orderReservationMs),
      }),
    };
  }
  const recorded = await uow.run((scope) =>
    settleOrder(deps, scope, unit.orderId, async () => {
      const stored = await scope.fulfilment.recordG2AOrder(
        unit.id,
        owner,
        created.orderId,
        eurosToCents(created.price),
      );
      if (stored) await scope.webhookEvents.markApplied(created.orderId, clock.now());
      return stored;
    }),
  );
  if (!recorded) {
    // Refunded meanwhile (by an administrator): the G2A order is never paid and lapses.
    log.warn(
      { outcome: 'abandoned', g2aOrderId: created.orderId },
      'G2A order made for a unit that moved on',
    );
    return { done: 'closed' };
  }
  return {
    next: { ...unit, state: 'ordered', g2aOrderId: created.orderId, createStartedAt: null, attempts: 0 },
  };
}

async function awaitLapse(deps: Attempt, unit: FulfilmentUnit): Promise<StepResult> {
  const lapsesAt = new Date(unit.createStartedAt!.getTime() + deps.settings.orderReservationMs);
  if (deps.clock.now() < lapsesAt)
    return { done: await retryLater(deps, unit, { at: lapsesAt, countAttempt: false }) };
  await deps.uow.run((scope) => scope.fulfilment.clearCreateStarted(unit.id, deps.owner));
  return { next: { ...unit, createStartedAt: null } };
}

async function payOrder(deps: Attempt, unit: FulfilmentUnit, log: Logger): Promise<StepResult> {
  const orderId = unit.g2aOrderId!;
  // Refunded by an administrator since: its G2A order is never paid and lapses.
  if (!(await deps.uow.run((scope) => scope.fulfilment.stillOrdered(unit.id)))) return { done: 'closed' };
  // Taken over from a worker whose lease ran out, perhaps during its payment: G2A says whether it went through.
  const paidBefore = unit.takenOver ? await paidAtG2A(deps, unit, log) : 'no';
  if (paidBefore !== 'yes' && paidBefore !== 'no') {
    return {
      done: await retryLater(deps, unit, {
        error: 'G2A could not say whether it was paid',
        flag: paidBefore.flag,
      }),
    };
  }
  if (paidBefore === 'no') {
    try {
      await deps.g2a.payOrder(orderId, leaseCheck(deps));
    } catch (error) {
      if (!(error instanceof G2AError)) throw error;
      if (deps.leaseLost) return { done: 'busy' };
      const failure = error.mayHaveActed ? null : definitiveFailure(error, 'pay');
      // Whether the payment went through is G2A's to say, even after a refusal (the order may have been paid by
      // an earlier attempt): only an order still `new` is refunded or paid again.
      const paid = await paidAtG2A(deps, unit, log);
      if (failure && paid === 'no') return { done: await refundUnit(deps, unit, failure, log) };
      if (paid !== 'yes') {
        const flag = paid === 'no' ? flagFor(error) : paid.flag;
        return { done: await retryLater(deps, unit, { error: error.message, flag }) };
      }
      log.info({ outcome: 'paid_after_all' }, 'the payment went through although its answer failed');
    }
  }
  const paidAt = deps.clock.now();
  const recorded = await deps.uow.run((scope) => scope.fulfilment.recordPaid(unit.id, deps.owner, paidAt));
  if (recorded === 'moved_on') return { done: 'closed' };
  if (recorded === 'paid_after_refund') {
    log.warn(
      { outcome: 'paid_after_refund' },
      'paid G2A for a unit refunded meanwhile; its key is kept sealed, never shown',
    );
    return { next: { ...unit, state: 'refunded', paidAt, attempts: 0 } };
  }
  return { next: { ...unit, state: 'paid', paidAt, attempts: 0 } };
}

/**
 * Whether G2A's order details say the order was paid: `yes`, `no` (still `new`), or not known — the details did
 * not come (try again) or named a status the shop does not understand (an operator is told).
 */
async function paidAtG2A(
  deps: Attempt,
  unit: FulfilmentUnit,
  log: Logger,
): Promise<'yes' | 'no' | { flag: string | undefined }> {
  let status: string;
  try {
    status = (await deps.g2a.getOrderDetails(unit.g2aOrderId!)).status;
  } catch (error) {
    log.warn({ outcome: 'details_failed', err: (error as Error).message }, 'G2A order details unavailable');
    return { flag: undefined };
  }
  if (status === 'new') return 'no';
  if (G2A_PAID_STATUSES.includes(status.toLowerCase())) return 'yes';
  log.warn({ outcome: 'status_unknown', status }, `G2A order status "${status}" is not understood`);
  return { flag: `G2A order status "${status}" is not understood; was it paid?` };
}

async function fetchKey(deps: Attempt, unit: FulfilmentUnit, log: Logger): Promise<StepResult> {
  let key: string;
  try {
    key = (await deps.g2a.getOrderKey(unit.g2aOrderId!)).key;
  } catch (error) {
    if (!(error instanceof G2AError)) throw error;
    const waitedMs = deps.clock.now().getTime() - (unit.paidAt ?? deps.clock.now()).getTime();
    const flag =
      error.kind === 'rejected' || error.kind === 'not_found'
        ? `G2A refuses the key: ${error.message}`
        : waitedMs > deps.settings.keyWaitMs
          ? `the key is not ready ${Math.round(waitedMs / 60_000)} minutes after payment`
          : flagFor(error);
    if (flag && !unit.flaggedAt)
      log.warn({ outcome: 'flagged', reason: flag }, 'unit flagged for an operator');
    return { done: await retryLater(deps, unit, { error: error.message, flag }) };
  }
  const sealed = deps.vault.seal(key, unit.id);
  const deliveredAt = deps.clock.now();
  const stored = await deps.uow.run(async (scope) => {
    const result: { outcome: 'delivered' | 'stored' | 'kept' } = { outcome: 'kept' };
    await settleOrder(deps, scope, unit.orderId, async () => {
      result.outcome = await scope.fulfilment.storeKey(unit.id, sealed, deliveredAt);
      return result.outcome === 'delivered';
    });
    await scope.fulfilment.release(unit.id, deps.owner, { nextAttemptAt: deliveredAt, at: deliveredAt });
    return result.outcome;
  });
  return { done: stored === 'delivered' ? 'delivered' : 'closed' };
}

/** Refunds a unit G2A refused for good, in the transaction that marks it failed; answers `refunded` or `closed`. */
async function refundUnit(
  deps: Attempt,
  unit: FulfilmentUnit,
  failure: { reason: FulfilmentFailure; detail: string },
  log: Logger,
): Promise<FulfilOutcome> {
  const refunded = await deps.uow.run((scope) =>
    settleOrder(deps, scope, unit.orderId, async () => {
      // Only while this attempt still holds the unit: one that took it over decides from G2A's answers.
      if (!(await scope.fulfilment.renewLease(unit.id, deps.owner, deps.leaseUntil))) return false;
      const failed = await scope.orders.moveUnits([unit.id], 'failed', ['pending', 'ordered', 'paid']);
      if (failed.length === 0) return false;
      await scope.orders.moveUnits(failed, 'refunded', ['failed']);
      await scope.fulfilment.recordFailure(unit.id, `${failure.reason}: ${failure.detail}`);
      await scope.wallets.lockWallet(unit.userId);
      await scope.wallets.record(unit.userId, [
        { type: 'refund', amountCents: unit.unitPriceCents, orderId: unit.orderId, orderUnitId: unit.id },
      ]);
      return true;
    }),
  );
  log.info(
    { outcome: refunded ? 'refunded' : 'closed', reason: failure.reason, amountCents: unit.unitPriceCents },
    refunded ? 'unit refunded: G2A refused it' : 'unit had moved on',
  );
  return refunded ? 'refunded' : 'closed';
}

/**
 * Gives the unit back with its next attempt due at `at` (by default after a backoff), and writes the message
 * that brings it back then; the reconciliation run is the safety net if that message is lost.
 */
async function retryLater(
  deps: Attempt,
  unit: FulfilmentUnit,
  change: { error?: string; flag?: string; at?: Date; countAttempt?: boolean },
): Promise<FulfilOutcome> {
  const now = deps.clock.now();
  const at =
    change.at ??
    new Date(
      now.getTime() +
        fulfilmentRetryDelayMs(unit.attempts, unit.flaggedAt !== null || change.flag !== undefined),
    );
  await deps.uow.run(async (scope) => {
    await scope.fulfilment.release(unit.id, deps.owner, {
      nextAttemptAt: at,
      at: now,
      ...(change.countAttempt === false ? {} : { error: change.error ?? 'retry' }),
      ...(change.flag ? { flag: change.flag } : {}),
    });
    await scope.outbox.add('g2a.fulfil', { unitId: unit.id }, { notBefore: at });
  });
  return 'waiting';
}

/**
 * Changes a unit of an order under the order's lock — taken first, by every transaction that changes units of
 * an order (this one, refunds), so they queue on the order rather than deadlock on its units — then moves the
 * order to the status its units add up to by a guarded transition, writes its invalidations, and tells the
 * shopper once the order is settled with keys to read. Answers what `change` answered; a `false` changes
 * nothing else.
 */
async function settleOrder(
  deps: FulfilOrderUnitDeps,
  scope: TransactionScope,
  orderId: string,
  change: () => Promise<boolean>,
): Promise<boolean> {
  const before = await scope.orders.lock(orderId);
  if (!before || !(await change())) return false;
  const order = (await scope.orders.findById(orderId))!;
  const status = orderStatusFor(order.units.map((unit) => unit.state));
  if (status !== before.status && (await scope.orders.moveStatus(order.id, status))) {
    const delivered = order.units.some((unit) => unit.state === 'delivered');
    if (delivered && wasOpen(before.status) && !wasOpen(status)) {
      const owner = await scope.users.findById(order.userId);
      if (owner) {
        await scope.outbox.add(
          'email.send',
          keysReadyEmail({ to: owner.email, orderId, publicUrl: deps.publicUrl }),
        );
      }
    }
  }
  await invalidateOrder(scope, order);
  return true;
}

const wasOpen = (status: OrderStatus) => status === 'paid' || status === 'processing';

/** A refusal G2A will not change its mind about, or null for one worth trying again. */
function definitiveFailure(
  error: G2AError,
  call: 'create' | 'pay',
): { reason: FulfilmentFailure; detail: string } | null {
  if (error.kind === 'not_found')
    return { reason: call === 'create' ? 'product_unknown' : 'rejected', detail: error.message };
  if (error.kind !== 'rejected') return null;
  if (call === 'pay') return { reason: 'payment_refused', detail: error.message };
  const text = `${error.g2aCode ?? ''} ${error.message}`.toLowerCase();
  const reason: FulfilmentFailure = /stock/.test(text)
    ? 'out_of_stock'
    : /max_price|price/.test(text)
      ? 'price_too_high'
      : 'rejected';
  return { reason, detail: error.message };
}

/** A failure an operator must look at even before the key wait is over. */
function flagFor(error: G2AError): string | undefined {
  return error.kind === 'unauthorized' ? `G2A refuses the shop's credentials: ${error.message}` : undefined;
}
