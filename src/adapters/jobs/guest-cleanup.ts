import type PgBoss from 'pg-boss';
import type { Logger } from '../../ports/logger.js';

export const GUEST_CLEANUP_QUEUE = 'guest-sessions-cleanup';
/** Hourly, off the hour: sessions live 30 days, so an hour of lag costs nothing. */
export const GUEST_CLEANUP_CRON = '23 * * * *';

/**
 * Schedules the expired guest session cleanup and works its queue. pg-boss sends each cron slot once across all
 * processes, and the `singleton` queue policy never runs two cleanups at once.
 */
export async function startGuestCleanup(deps: {
  boss: PgBoss;
  logger: Logger;
  deleteExpiredGuestSessions: () => Promise<unknown>;
  cron?: string;
}): Promise<void> {
  await deps.boss.createQueue(GUEST_CLEANUP_QUEUE, {
    name: GUEST_CLEANUP_QUEUE,
    policy: 'singleton',
    retryLimit: 2,
    retryDelay: 60,
  });
  await deps.boss.schedule(GUEST_CLEANUP_QUEUE, deps.cron ?? GUEST_CLEANUP_CRON);
  await deps.boss.work(GUEST_CLEANUP_QUEUE, async () => {
    try {
      await deps.deleteExpiredGuestSessions();
    } catch (error) {
      deps.logger.error(
        { operation: 'guest-sessions.cleanup', outcome: 'failed', err: error },
        'cleanup failed',
      );
      throw error;
    }
  });
}
