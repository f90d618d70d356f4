import { DomainError } from '../domain/errors.js';
import { orderStatusFor, refundableUnits, type OrderUnitState } from '../domain/order.js';
import type { Logger } from '../ports/logger.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { invalidateOrder } from './order-invalidation.js';
import { toOrderView, type OrderView } from './order-views.js';

export interface RefundOrderInput {
  orderId: string;
  /** Also the delivered units; otherwise only the units not delivered yet. */
  all: boolean;
  actorId?: string;
}

/**
 * An administrator's refund: every unit not delivered (or, with `all`, every unit) that is not refunded yet
 * goes back to the wallet, one `refund` ledger entry per unit, and the order moves to `refunded` or
 * `partially_refunded`. The order and its units are locked first, so concurrent refunds refund each unit once
 * (and the database refuses a second refund entry of a unit). Answers the order as it is after.
 */
export async function refundOrder(
  deps: { uow: UnitOfWork; logger: Logger },
  given: RefundOrderInput,
): Promise<OrderView & { userId: string }> {
  // An id in capitals is the same order (and the same cache keys).
  const input = { ...given, orderId: given.orderId.toLowerCase() };
  const outcome = await deps.uow.run(async (scope) => {
    const order = await scope.orders.lock(input.orderId);
    if (!order) throw new DomainError('ORDER_NOT_FOUND', 'no such order');
    const wanted = refundableUnits(order, input.all);
    const from: OrderUnitState[] = input.all
      ? ['pending', 'ordered', 'paid', 'failed', 'delivered']
      : ['pending', 'ordered', 'paid', 'failed'];
    const moved = new Set(
      await scope.orders.moveUnits(
        wanted.map((unit) => unit.id),
        'refunded',
        from,
      ),
    );
    if (moved.size === 0) return { order, refunded: 0, refundedCents: 0 };

    const priceOfLine = new Map(order.lines.map((line) => [line.id, line.unitPriceCents]));
    const refunds = order.units
      .filter((unit) => moved.has(unit.id))
      .map((unit) => ({
        type: 'refund' as const,
        amountCents: priceOfLine.get(unit.lineId)!,
        orderId: order.id,
        orderUnitId: unit.id,
      }));
    await scope.wallets.lockWallet(order.userId);
    await scope.wallets.record(order.userId, refunds);
    const status = orderStatusFor(order.units.map((unit) => (moved.has(unit.id) ? 'refunded' : unit.state)));
    if (status !== order.status && !(await scope.orders.moveStatus(order.id, status))) {
      throw new Error(`order ${order.id} cannot move from ${order.status} to ${status}`);
    }
    await invalidateOrder(scope, order);
    return {
      order: (await scope.orders.findById(order.id))!,
      refunded: refunds.length,
      refundedCents: refunds.reduce((sum, refund) => sum + refund.amountCents, 0),
    };
  });
  deps.logger.info(
    {
      operation: 'order.refund',
      outcome: outcome.refunded > 0 ? 'refunded' : 'nothing_to_refund',
      orderId: input.orderId,
      actorId: input.actorId,
      all: input.all,
      units: outcome.refunded,
      amountCents: outcome.refundedCents,
    },
    'order refunded',
  );
  return { ...toOrderView(outcome.order), userId: outcome.order.userId };
}
