import type PgBoss from 'pg-boss';
import type { RunSyncOutcome } from '../../application/run-sync.js';
import type { SyncKind, SyncTrigger } from '../../domain/sync-run.js';
import type { Logger } from '../../ports/logger.js';
import { SYNC_CRON, SYNC_RUN_QUEUE, SYNC_SCHEDULE_QUEUES } from './sync-queues.js';
import type { CreateQueue } from './create-queue.js';

/** Creates the sync queues; every role needs them, since the API enqueues runs. */
export async function createSyncQueues(createQueue: CreateQueue): Promise<void> {
  // 'singleton': at most one run job active at a time, whichever process polls.
  await createQueue(SYNC_RUN_QUEUE, { policy: 'singleton' });
  for (const queue of Object.values(SYNC_SCHEDULE_QUEUES)) {
    await createQueue(queue, { policy: 'stately' });
  }
}

export interface SyncWorkerDeps {
  boss: PgBoss;
  runSync(input: { runId: string; finalAttempt: boolean }): Promise<RunSyncOutcome>;
  triggerSync(kind: SyncKind, trigger: SyncTrigger): Promise<unknown>;
  /** Registers the cron schedules (twice a day, every 15 minutes); off in tests. */
  schedules: boolean;
  logger: Logger;
  /** Told how each run this process worked on ended and how long it took (metrics). */
  onRunEnded?(kind: SyncKind, outcome: RunSyncOutcome | 'error', seconds: number): void;
}

export async function startSyncWorkers(deps: SyncWorkerDeps): Promise<void> {
  await deps.boss.work<{ runId: string; kind: SyncKind }>(
    SYNC_RUN_QUEUE,
    { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: 1 },
    async ([job]) => {
      if (!job) return;
      const started = performance.now();
      let outcome: RunSyncOutcome | 'error' = 'error';
      try {
        outcome = await deps.runSync({
          runId: job.data.runId,
          finalAttempt: job.retryCount >= job.retryLimit,
        });
      } finally {
        deps.onRunEnded?.(job.data.kind, outcome, (performance.now() - started) / 1000);
      }
    },
  );

  for (const kind of Object.keys(SYNC_SCHEDULE_QUEUES) as SyncKind[]) {
    const queue = SYNC_SCHEDULE_QUEUES[kind];
    await deps.boss.work(queue, { batchSize: 1 }, async () => {
      await deps.triggerSync(kind, 'schedule');
    });
    if (deps.schedules) await deps.boss.schedule(queue, SYNC_CRON[kind], {}, { tz: 'UTC' });
    else await deps.boss.unschedule(queue);
  }
}
