import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type PgBoss from 'pg-boss';
import type { Logger } from '../../ports/logger.js';
import type { OutboxTopic } from '../../ports/outbox.js';
import type { Database } from '../postgres/schema.js';
import { sendOutboxJob, type OutboxQueuePolicies } from './outbox-queues.js';

export const OUTBOX_SWEEP_QUEUE = 'outbox-sweep';
const SWEEP_CRON = '*/5 * * * *';
/** Older than any retry backoff that is still running normally; younger rows are left to their jobs. */
const SWEEP_AFTER_MINUTES = 15;
const SWEEP_BATCH = 500;
/** Delivered rows are history: kept a week for inspection, then removed, a bounded batch per sweep. */
const KEEP_DONE_DAYS = 7;
const PRUNE_BATCH = 5_000;

const LIVE_STATES = new Set(['created', 'retry', 'active']);

/**
 * Finds pending outbox rows whose delivery job is gone or ended without delivering them — a worker that died
 * during the last attempt, for instance — and gives each a new job, or marks it dead when its attempts are
 * spent; and removes delivered rows older than a week. Answers how many rows it re-sent, buried and pruned.
 */
export async function sweepOutbox(deps: {
  boss: PgBoss;
  db: Kysely<Database>;
  policies: OutboxQueuePolicies;
  logger: Logger;
  olderThanMinutes?: number;
}): Promise<{ resent: number; buried: number; pruned: number }> {
  const pruned = Number(
    (
      await deps.db
        .deleteFrom('outbox')
        .where('id', 'in', (qb) =>
          qb
            .selectFrom('outbox')
            .select('id')
            .where('status', '=', 'done')
            .where('processed_at', '<', new Date(Date.now() - KEEP_DONE_DAYS * 24 * 3600 * 1000))
            .limit(PRUNE_BATCH),
        )
        .executeTakeFirst()
    ).numDeletedRows,
  );
  const cutoff = new Date(Date.now() - (deps.olderThanMinutes ?? SWEEP_AFTER_MINUTES) * 60_000);
  const rows = await deps.db
    .selectFrom('outbox')
    .select(['id', 'topic', 'job_id', 'attempts'])
    .where('status', '=', 'pending')
    .where('created_at', '<', cutoff)
    .orderBy('id')
    .limit(SWEEP_BATCH)
    .execute();
  let resent = 0;
  let buried = 0;
  for (const row of rows) {
    const policy = deps.policies[row.topic as OutboxTopic];
    if (!policy) continue;
    const job = row.job_id
      ? await deps.boss.getJobById(policy.queue, row.job_id, { includeArchive: true })
      : null;
    if (job && LIVE_STATES.has(job.state)) continue;
    if (row.attempts > policy.retryLimit) {
      await deps.db
        .updateTable('outbox')
        .set({ status: 'dead', last_error: 'delivery job ended without delivering' })
        .where('id', '=', row.id)
        .where('status', '=', 'pending')
        .execute();
      buried += 1;
      continue;
    }
    const jobId = randomUUID();
    await sendOutboxJob(deps.boss, policy, { outboxId: String(row.id), jobId });
    await deps.db.updateTable('outbox').set({ job_id: jobId }).where('id', '=', row.id).execute();
    resent += 1;
  }
  if (resent + buried > 0) {
    deps.logger.warn(
      { operation: 'outbox.sweep', outcome: 'repaired', resent, buried },
      'outbox rows without a live job',
    );
  }
  return { resent, buried, pruned };
}

/** Runs the sweep every five minutes on one worker at a time. */
export async function scheduleOutboxSweep(
  deps: Parameters<typeof sweepOutbox>[0] & { schedules: boolean },
): Promise<void> {
  await deps.boss.createQueue(OUTBOX_SWEEP_QUEUE, { name: OUTBOX_SWEEP_QUEUE, policy: 'singleton' });
  await deps.boss.work(OUTBOX_SWEEP_QUEUE, { batchSize: 1 }, async () => {
    await sweepOutbox(deps);
  });
  if (deps.schedules) await deps.boss.schedule(OUTBOX_SWEEP_QUEUE, SWEEP_CRON, {}, { tz: 'UTC' });
}
