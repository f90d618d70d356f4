import type PgBoss from 'pg-boss';
import type { RunSyncOutcome } from '../../application/run-sync.js';
import type { SyncKind, SyncTrigger } from '../../domain/sync-run.js';
import type { Logger } from '../../ports/logger.js';
import { startHousekeeping } from './housekeeping.js';
import type { OutboxDeliveryDeps, OutboxRegistry } from './outbox-topics.js';
import { startOutboxWorkers } from './outbox-worker.js';
import { startSyncWorkers } from './sync-workers.js';
import type { WorkerWakeups } from './worker-wakeups.js';

export interface WorkerDeps {
  boss: PgBoss;
  outbox: OutboxRegistry;
  delivery: OutboxDeliveryDeps;
  wakeups: WorkerWakeups;
  logger: Logger;
  /** Registers the cron schedules (syncs, cleanups); off in tests. */
  schedules: boolean;
  runSync(input: { runId: string; finalAttempt: boolean }): Promise<RunSyncOutcome>;
  triggerSync(kind: SyncKind, trigger: SyncTrigger): Promise<unknown>;
  deleteExpiredGuestSessions(): Promise<unknown>;
  purgeIdempotencyKeys(): Promise<unknown>;
}

/** Subscribes every background worker of the shop and registers its schedules. */
export async function startWorkers(deps: WorkerDeps): Promise<void> {
  await startOutboxWorkers({
    boss: deps.boss,
    registry: deps.outbox,
    deliveryDeps: deps.delivery,
    wakeups: deps.wakeups,
    logger: deps.logger,
  });
  await startSyncWorkers(deps);
  await startHousekeeping(deps);
}
