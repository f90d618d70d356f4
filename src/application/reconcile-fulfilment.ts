import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';

/** Units handed back per run; a larger backlog drains over the next runs (one a minute). */
const RECONCILE_BATCH = 1_000;

/**
 * Hands every unit still on its way (pending, ordered, paid) whose next attempt is due, and that no live
 * worker holds, back to the fulfilment workers: after a worker died, a message was lost or a process
 * restarted. The unit's row says where it stands; the worker goes on from what G2A says. Answers how many.
 */
export async function reconcileFulfilment(deps: {
  uow: UnitOfWork;
  clock: Clock;
  logger: Logger;
}): Promise<number> {
  const now = deps.clock.now();
  const handed = await deps.uow.run(async (scope) => {
    const due = await scope.fulfilment.dueUnits(now, RECONCILE_BATCH);
    for (const unitId of due) await scope.outbox.add('g2a.fulfil', { unitId });
    return due.length;
  });
  if (handed > 0) {
    deps.logger.info(
      { operation: 'fulfilment.reconcile', outcome: 'handed_back', units: handed },
      'due units handed back',
    );
  }
  return handed;
}
