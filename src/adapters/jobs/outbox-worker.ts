import type PgBoss from 'pg-boss';
import type { Logger } from '../../ports/logger.js';
import type { OutboxTopic } from '../../ports/outbox.js';
import {
  outboxTopicNames,
  type OutboxDeliveryDeps,
  type OutboxRegistry,
  type OutboxTopicEntry,
} from './outbox-topics.js';
import type { WorkerWakeups } from './worker-wakeups.js';
import type { CreateQueue } from './create-queue.js';

/** The schema pg-boss keeps its jobs in (and with them every outbox message). */
export const PG_BOSS_SCHEMA = 'pgboss';

/** The floor pg-boss allows; a commit wakes local workers sooner still. */
const POLLING_INTERVAL_SECONDS = 0.5;

/** Creates the outbox queues (pg-boss 10 drops sends to a queue that does not exist). */
export async function createOutboxQueues(createQueue: CreateQueue, registry: OutboxRegistry): Promise<void> {
  for (const topic of outboxTopicNames(registry)) {
    const { queue, delivery } = registry[topic];
    await createQueue(queue, {
      policy: 'standard',
      retryLimit: delivery.retryLimit,
      retryDelay: delivery.retryDelaySeconds,
      retryBackoff: delivery.retryBackoff,
      expireInSeconds: delivery.expireInSeconds,
    });
  }
}

/**
 * One pg-boss worker per outbox topic. A batch is delivered by the topic's handler; delivered messages are
 * completed (and scrubbed), failed ones handed back to pg-boss, which retries them with the topic's backoff or,
 * past the last attempt, keeps them as `failed` for inspection.
 */
/** Whether Redis answers this process now, and its changes (the process's Redis guard). */
export interface RedisAvailability {
  readonly isOpen: boolean;
  onChange(listener: (state: 'closed' | 'open' | 'halfOpen') => void): () => void;
}

export async function startOutboxWorkers(deps: {
  boss: PgBoss;
  registry: OutboxRegistry;
  deliveryDeps: OutboxDeliveryDeps;
  wakeups: WorkerWakeups;
  logger: Logger;
  redis?: RedisAvailability;
}): Promise<void> {
  for (const topic of outboxTopicNames(deps.registry)) {
    const entry = deps.registry[topic] as OutboxTopicEntry<OutboxTopic>;
    const log = deps.logger.child({ operation: `outbox.${topic}` });
    const subscribe = async () => {
      for (let worker = 0; worker < (entry.delivery.workers ?? 1); worker++) {
        const workerId = await deps.boss.work<object>(
          entry.queue,
          {
            batchSize: entry.delivery.batchSize,
            pollingIntervalSeconds: POLLING_INTERVAL_SECONDS,
            includeMetadata: true,
          },
          (jobs) => deliverBatch(deps, entry, jobs, log),
        );
        deps.wakeups.register(entry.queue, workerId);
      }
    };
    const { redis } = deps;
    if (!entry.needsRedis || !redis) {
      await subscribe();
      continue;
    }
    // Paused while this process cannot reach Redis; changes are applied one after another.
    let working = false;
    let change = Promise.resolve();
    const apply = async (state: 'closed' | 'open' | 'halfOpen') => {
      if (state === 'open' && working) {
        working = false;
        deps.wakeups.unregister(entry.queue);
        await deps.boss.offWork(entry.queue);
        log.warn({ outcome: 'paused' }, 'outbox worker paused: redis does not answer this process');
      } else if (state === 'closed' && !working) {
        working = true;
        await subscribe();
        log.info({ outcome: 'resumed' }, 'outbox worker resumed: redis answers again');
      }
    };
    redis.onChange((state) => {
      change = change
        .then(() => apply(state))
        .catch((error: unknown) => {
          log.error({ err: error }, 'outbox worker could not be paused or resumed');
        });
    });
    if (!redis.isOpen) {
      working = true;
      await subscribe();
    }
  }
}

/**
 * Delivers one batch. Delivered messages are completed here; the failed ones are left to pg-boss, by rejecting:
 * it fails them once the handler has settled. Failing them here instead would race pg-boss's own completion of
 * the batch, which follows the handler: a failed message due again at once and claimed by another worker in
 * that gap would be marked completed without ever being delivered.
 */
async function deliverBatch(
  deps: { boss: PgBoss; deliveryDeps: OutboxDeliveryDeps },
  entry: OutboxTopicEntry<OutboxTopic>,
  jobs: PgBoss.JobWithMetadata<object>[],
  log: Logger,
): Promise<void> {
  const started = performance.now();
  const expiresInMs = Math.min(...jobs.map((job) => job.expireInSeconds)) * 1000;
  const failures = await entry.deliver(
    jobs.map((job) => ({ id: job.id, payload: job.data as never })),
    deps.deliveryDeps,
    { deadline: Date.now() + expiresInMs / 2 },
  );
  const delivered = jobs.filter((job) => !failures.has(job.id));
  if (delivered.length > 0) await completeDelivered(deps.boss, entry, delivered);
  // A batch delivered whole is routine (one per checkout, one per synced page): debug. A failure is not.
  log[failures.size === 0 ? 'debug' : 'warn'](
    {
      outcome: failures.size === 0 ? 'delivered' : 'partial',
      delivered: delivered.length,
      failed: failures.size,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    },
    'outbox batch',
  );
  if (failures.size === 0) return;
  for (const job of jobs) {
    if (failures.has(job.id) && job.retryCount >= job.retryLimit) {
      log.error(
        {
          outcome: 'dead',
          messageId: job.id,
          attempts: job.retryCount + 1,
          err: failures.get(job.id)!.message,
        },
        'outbox message is dead',
      );
    }
  }
  throw new BatchFailed(failures);
}

/** The errors of a batch's failed messages, as one: each distinct message once, so an outage reads as one. */
class BatchFailed extends Error {
  constructor(failures: Map<string, Error>) {
    const messages = [...new Set([...failures.values()].map((error) => error.message))];
    super(messages.join('; ').slice(0, 500));
    this.name = 'OutboxDeliveryFailed';
    this.stack = undefined;
  }
}

/**
 * Completes (and scrubs) the delivered messages, each only while it is still this attempt's: a batch that
 * outlived its expiry finds its messages failed or taken up again by another worker, and must neither complete
 * that worker's attempt nor strip the text a retry is about to send. An attempt is the job's id with its
 * `retry_count`, which every fetch of a started job increments.
 */
async function completeDelivered(
  boss: PgBoss,
  entry: OutboxTopicEntry<OutboxTopic>,
  jobs: PgBoss.JobWithMetadata<object>[],
): Promise<void> {
  await boss.getDb().executeSql(
    `UPDATE ${PG_BOSS_SCHEMA}.job AS job
        SET state = 'completed', completed_on = now(), output = NULL, data = job.data - $4::text[]
       FROM unnest($2::uuid[], $3::int[]) AS attempt(id, retry_count)
      WHERE job.name = $1 AND job.id = attempt.id AND job.retry_count = attempt.retry_count
        AND job.state = 'active'`,
    [
      entry.queue,
      jobs.map((job) => job.id),
      jobs.map((job) => job.retryCount),
      entry.scrubAfterDelivery ?? [],
    ],
  );
}
