import { IDEMPOTENCY_KEY_TTL_HOURS } from '../domain/idempotency.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';

/** Keys per statement, so one purge never holds many rows at once; a backlog drains over the next runs. */
const PURGE_BATCH = 5_000;
const PURGE_MAX_BATCHES = 20;

/** Removes idempotency keys older than their time to live; answers how many went. */
export async function purgeIdempotencyKeys(deps: {
  uow: UnitOfWork;
  clock: Clock;
  logger: Logger;
}): Promise<number> {
  const before = new Date(deps.clock.now().getTime() - IDEMPOTENCY_KEY_TTL_HOURS * 3600 * 1000);
  let purged = 0;
  for (let batch = 0; batch < PURGE_MAX_BATCHES; batch++) {
    const count = await deps.uow.run((scope) => scope.idempotency.purgeCreatedBefore(before, PURGE_BATCH));
    purged += count;
    if (count < PURGE_BATCH) break;
  }
  deps.logger.info(
    { operation: 'idempotency.purge', outcome: 'done', purged },
    'expired idempotency keys purged',
  );
  return purged;
}
