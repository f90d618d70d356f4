import type PgBoss from 'pg-boss';
import type { OutboxTopic } from '../../ports/outbox.js';

export interface OutboxQueuePolicy {
  queue: string;
  retryLimit: number;
  retryDelaySeconds: number;
  retryBackoff: boolean;
}

export type OutboxQueuePolicies = Record<OutboxTopic, OutboxQueuePolicy>;

/**
 * One pg-boss queue per topic, each with its own retry policy. Cache invalidations never die: a stale cache
 * entry must go however long Redis is away, and a retry against an open circuit costs microseconds.
 */
export function outboxQueuePolicies(options: {
  emailMaxAttempts: number;
  emailRetryDelaySeconds?: number;
}): OutboxQueuePolicies {
  return {
    'cache.invalidate': {
      queue: 'outbox-cache',
      retryLimit: 1_000_000,
      retryDelaySeconds: 2,
      retryBackoff: false,
    },
    'email.send': {
      queue: 'outbox-email',
      retryLimit: options.emailMaxAttempts - 1,
      retryDelaySeconds: options.emailRetryDelaySeconds ?? 10,
      retryBackoff: true,
    },
  };
}

/** Sends the delivery job of outbox row `outboxId`; with `db`, inside the caller's transaction. */
export async function sendOutboxJob(
  boss: PgBoss,
  policy: OutboxQueuePolicy,
  job: { outboxId: string; jobId: string; db?: PgBoss.Db },
): Promise<void> {
  await boss.send(
    policy.queue,
    { outboxId: job.outboxId },
    {
      id: job.jobId,
      ...(job.db ? { db: job.db } : {}),
      retryLimit: policy.retryLimit,
      retryDelay: policy.retryDelaySeconds,
      retryBackoff: policy.retryBackoff,
    },
  );
}
