import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { GuestSessionRepository } from '../ports/tokens.js';

/** Sessions per statement: each batch (and its cascade to cart and wishlist lines) is a short transaction. */
export const GUEST_CLEANUP_BATCH_SIZE = 500;
/** Batches per run, so one run stays short; a backlog drains over the next runs. */
export const GUEST_CLEANUP_MAX_BATCHES = 20;

export interface DeleteExpiredGuestSessionsDeps {
  guestSessions: GuestSessionRepository;
  clock: Clock;
  logger: Logger;
  batchSize?: number;
  maxBatches?: number;
}

/** Deletes guest sessions that expired, in bounded batches; their cart and wishlist lines go with them. */
export async function deleteExpiredGuestSessions(
  deps: DeleteExpiredGuestSessionsDeps,
): Promise<{ deleted: number; more: boolean }> {
  const batchSize = deps.batchSize ?? GUEST_CLEANUP_BATCH_SIZE;
  const maxBatches = deps.maxBatches ?? GUEST_CLEANUP_MAX_BATCHES;
  const started = performance.now();
  const now = deps.clock.now();
  let deleted = 0;
  let more = false;
  for (let batch = 0; batch < maxBatches; batch++) {
    const count = await deps.guestSessions.deleteExpired(now, batchSize);
    deleted += count;
    more = count === batchSize;
    if (!more) break;
  }
  deps.logger.info(
    {
      operation: 'guest-sessions.cleanup',
      outcome: more ? 'partial' : 'done',
      deleted,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    },
    'expired guest sessions deleted',
  );
  return { deleted, more };
}
