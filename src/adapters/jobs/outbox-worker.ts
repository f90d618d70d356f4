import { sql, type Kysely } from 'kysely';
import type PgBoss from 'pg-boss';
import type { Cache, CacheInvalidation } from '../../ports/cache.js';
import type { Logger } from '../../ports/logger.js';
import type { Mailer, MailMessage } from '../../ports/mailer.js';
import type { OutboxTopic, OutboxTopics } from '../../ports/outbox.js';
import { mergeInvalidations } from '../postgres/kysely-unit-of-work.js';
import type { Database } from '../postgres/schema.js';
import type { OutboxQueuePolicies } from './outbox-queues.js';

export interface OutboxMessage<T extends OutboxTopic = OutboxTopic> {
  id: string;
  payload: OutboxTopics[T];
}

/** Delivers a batch of one topic; answers the messages that failed, by id. Must be idempotent. */
export type OutboxHandler<T extends OutboxTopic> = (
  messages: OutboxMessage<T>[],
) => Promise<Map<string, Error>>;

export type OutboxHandlers = { [T in OutboxTopic]: OutboxHandler<T> };

export function outboxHandlers(deps: { cache: Cache; mailer: Mailer }): OutboxHandlers {
  return {
    // One Redis round trip for the whole batch; invalidation is idempotent, so all-or-nothing is right.
    'cache.invalidate': async (messages) => {
      const failures = new Map<string, Error>();
      try {
        await deps.cache.invalidate(mergeInvalidations(messages.map((m) => m.payload as CacheInvalidation)));
      } catch (error) {
        for (const m of messages) failures.set(m.id, error as Error);
      }
      return failures;
    },
    'email.send': async (messages) => {
      const failures = new Map<string, Error>();
      for (const m of messages) {
        try {
          await deps.mailer.send(m.payload as MailMessage);
        } catch (error) {
          failures.set(m.id, error as Error);
        }
      }
      return failures;
    },
  };
}

interface OutboxJobData {
  outboxId: string;
}

/** How many jobs one fetch claims (pg-boss fetches them with FOR UPDATE SKIP LOCKED). */
const BATCH_SIZE = 50;
/** The floor pg-boss allows; the nudge after commit makes the common path faster still. */
const POLLING_INTERVAL_SECONDS = 0.5;

export interface OutboxWorkers {
  /** Wakes the local workers at once (after a commit that wrote outbox rows). */
  nudge(): void;
}

/** Subscribes one pg-boss worker per outbox topic. */
export async function startOutboxWorkers(deps: {
  boss: PgBoss;
  db: Kysely<Database>;
  policies: OutboxQueuePolicies;
  handlers: OutboxHandlers;
  logger: Logger;
}): Promise<OutboxWorkers> {
  const workerIds: string[] = [];
  for (const topic of Object.keys(deps.policies) as OutboxTopic[]) {
    const policy = deps.policies[topic];
    const handler = deps.handlers[topic] as OutboxHandler<OutboxTopic>;
    const log = deps.logger.child({ operation: `outbox.${topic}` });
    /** One statement per outcome, not per row: a long Redis outage must not turn into a write storm. */
    const recordFailures = async (
      failures: Map<string, Error>,
      jobs: Map<string, PgBoss.JobWithMetadata<OutboxJobData>>,
    ) => {
      const failed = [...failures].filter(([outboxId]) => jobs.has(outboxId));
      const dead = failed.filter(([outboxId]) => {
        const job = jobs.get(outboxId)!;
        return job.retryCount >= job.retryLimit;
      });
      const lastError = (error: Error) => error.message.slice(0, 500);
      for (const [status, group] of [
        ['pending', failed.filter((entry) => !dead.includes(entry))],
        ['dead', dead],
      ] as const) {
        if (group.length === 0) continue;
        await deps.db
          .updateTable('outbox')
          .set({ last_error: lastError(group[0]![1]), ...(status === 'dead' ? { status } : {}) })
          .where(
            'id',
            'in',
            group.map(([outboxId]) => outboxId),
          )
          .execute();
      }
      if (failed.length > 0)
        await deps.boss.fail(
          policy.queue,
          failed.map(([outboxId]) => jobs.get(outboxId)!.id),
        );
      for (const [outboxId, error] of dead) {
        log.error(
          { outcome: 'dead', outboxId, attempts: jobs.get(outboxId)!.retryCount + 1, err: error.message },
          'outbox row is dead',
        );
      }
    };
    const id = await deps.boss.work<OutboxJobData>(
      policy.queue,
      { batchSize: BATCH_SIZE, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS, includeMetadata: true },
      async (jobs) => {
        const started = performance.now();
        const jobByOutboxId = new Map(jobs.map((job) => [job.data.outboxId, job]));
        // Rows already delivered (a job replayed after a crash) are skipped: delivery is at-least-once.
        const rows = await deps.db
          .updateTable('outbox')
          .set({ attempts: sql`attempts + 1` })
          .where('id', 'in', [...jobByOutboxId.keys()])
          .where('status', '=', 'pending')
          .returning(['id', 'payload'])
          .execute();
        if (rows.length === 0) return;

        const failures = await handler(rows.map((r) => ({ id: String(r.id), payload: r.payload as never })));
        const delivered = rows.map((r) => String(r.id)).filter((id) => !failures.has(id));
        if (delivered.length > 0) {
          await deps.db
            .updateTable('outbox')
            .set({
              status: 'done',
              processed_at: new Date(),
              last_error: null,
              // A sent e-mail's text carries a live token: the row keeps who and what, not the text.
              ...(topic === 'email.send' ? { payload: sql`payload - 'text' - 'html'` } : {}),
            })
            .where('id', 'in', delivered)
            .execute();
        }
        if (failures.size > 0) await recordFailures(failures, jobByOutboxId);

        log.info(
          {
            outcome: failures.size === 0 ? 'delivered' : 'partial',
            delivered: delivered.length,
            failed: failures.size,
            durationMs: Math.round((performance.now() - started) * 100) / 100,
          },
          'outbox batch',
        );
      },
    );
    workerIds.push(id);
  }
  return {
    nudge: () => {
      for (const id of workerIds) deps.boss.notifyWorker(id);
    },
  };
}

/** Creates the outbox queues (pg-boss 10 drops sends to a queue that does not exist). */
export async function createOutboxQueues(boss: PgBoss, policies: OutboxQueuePolicies): Promise<void> {
  for (const policy of Object.values(policies)) {
    await boss.createQueue(policy.queue, {
      name: policy.queue,
      policy: 'standard',
      retryLimit: policy.retryLimit,
      retryDelay: policy.retryDelaySeconds,
      retryBackoff: policy.retryBackoff,
    });
  }
}
