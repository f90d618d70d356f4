import type PgBoss from 'pg-boss';
import type { Logger } from '../../ports/logger.js';
import type { CreateQueue } from './create-queue.js';

export interface ScheduledTask {
  queue: string;
  cron: string;
  /** For the log line of a failed run. */
  operation: string;
  run: () => Promise<unknown>;
}

/**
 * Schedules a periodic task and works its queue. pg-boss sends each cron slot once across all processes, and
 * the `singleton` queue policy never runs two at once; a failed run is retried twice, a minute apart.
 */
export async function startScheduledTask(
  deps: { boss: PgBoss; createQueue: CreateQueue; logger: Logger },
  task: ScheduledTask,
): Promise<void> {
  const { boss, createQueue, logger } = deps;
  await createQueue(task.queue, {
    policy: 'singleton',
    retryLimit: 2,
    retryDelay: 60,
  });
  await boss.schedule(task.queue, task.cron, {}, { tz: 'UTC' });
  await boss.work(task.queue, async () => {
    try {
      await task.run();
    } catch (error) {
      logger.error({ operation: task.operation, outcome: 'failed', err: error }, `${task.operation} failed`);
      throw error;
    }
  });
}
