import type PgBoss from 'pg-boss';
import type { RunSyncOutcome } from '../../application/run-sync.js';
import type { SyncKind, SyncTrigger } from '../../domain/sync-run.js';
import type { Logger } from '../../ports/logger.js';
import { startHousekeeping } from './housekeeping.js';
import { startScheduledTask } from './scheduled-task.js';

export const FULFILMENT_RECONCILE_QUEUE = 'fulfilment-reconcile';
/** Every minute: a unit whose worker died or whose message was lost waits at most its lease plus a minute. */
export const FULFILMENT_RECONCILE_CRON = '* * * * *';
import type { OutboxDeliveryDeps, OutboxRegistry } from './outbox-topics.js';
import { startOutboxWorkers, type RedisAvailability } from './outbox-worker.js';
import { startSyncWorkers } from './sync-workers.js';
import type { WorkerWakeups } from './worker-wakeups.js';
import type { CreateQueue } from './create-queue.js';

export interface WorkerDeps {
  boss: PgBoss;
  createQueue: CreateQueue;
  outbox: OutboxRegistry;
  delivery: OutboxDeliveryDeps;
  wakeups: WorkerWakeups;
  logger: Logger;
  /** This process's Redis guard: workers of messages delivered through Redis pause while it is open. */
  redisAvailability?: RedisAvailability;
  /** Registers the cron schedules (syncs, cleanups); off in tests. */
  schedules: boolean;
  runSync(input: { runId: string; finalAttempt: boolean }): Promise<RunSyncOutcome>;
  triggerSync(kind: SyncKind, trigger: SyncTrigger): Promise<unknown>;
  onSyncRunEnded?(kind: SyncKind, outcome: RunSyncOutcome | 'error', seconds: number): void;
  deleteExpiredGuestSessions(): Promise<unknown>;
  purgeIdempotencyKeys(): Promise<unknown>;
  reconcileFulfilment(): Promise<unknown>;
}

/** Subscribes every background worker of the shop and registers its schedules. */
export async function startWorkers(deps: WorkerDeps): Promise<void> {
  await startOutboxWorkers({
    boss: deps.boss,
    registry: deps.outbox,
    deliveryDeps: deps.delivery,
    wakeups: deps.wakeups,
    logger: deps.logger,
    redis: deps.redisAvailability,
  });
  await startSyncWorkers({ ...deps, onRunEnded: deps.onSyncRunEnded });
  await startHousekeeping(deps);
  await startScheduledTask(deps, {
    queue: FULFILMENT_RECONCILE_QUEUE,
    cron: FULFILMENT_RECONCILE_CRON,
    operation: 'fulfilment.reconcile',
    run: deps.reconcileFulfilment,
  });
  // At start too: units a stopped process left behind go on now, not at the next minute.
  await deps.reconcileFulfilment();
}
