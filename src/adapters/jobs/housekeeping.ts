import type PgBoss from 'pg-boss';
import type { Logger } from '../../ports/logger.js';
import type { CreateQueue } from './create-queue.js';
import { startScheduledTask } from './scheduled-task.js';

export const GUEST_CLEANUP_QUEUE = 'guest-sessions-cleanup';
/** Hourly, off the hour: sessions live 30 days, so an hour of lag costs nothing. */
export const GUEST_CLEANUP_CRON = '23 * * * *';

export const IDEMPOTENCY_PURGE_QUEUE = 'idempotency-keys-purge';
/** Hourly: keys live a day, so an hour of lag costs a few rows. */
export const IDEMPOTENCY_PURGE_CRON = '41 * * * *';

/** The shop's housekeeping: expired guest sessions (with their lines) and idempotency keys. */
export async function startHousekeeping(deps: {
  boss: PgBoss;
  createQueue: CreateQueue;
  logger: Logger;
  deleteExpiredGuestSessions: () => Promise<unknown>;
  purgeIdempotencyKeys: () => Promise<unknown>;
}): Promise<void> {
  await startScheduledTask(deps, {
    queue: GUEST_CLEANUP_QUEUE,
    cron: GUEST_CLEANUP_CRON,
    operation: 'guest-sessions.cleanup',
    run: deps.deleteExpiredGuestSessions,
  });
  await startScheduledTask(deps, {
    queue: IDEMPOTENCY_PURGE_QUEUE,
    cron: IDEMPOTENCY_PURGE_CRON,
    operation: 'idempotency.purge',
    run: deps.purgeIdempotencyKeys,
  });
}
