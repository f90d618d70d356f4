import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type PgBoss from 'pg-boss';
import type { CacheInvalidation } from '../../ports/cache.js';
import type {
  OutboxBacklog,
  OutboxMonitor,
  OutboxTopic,
  OutboxTopics,
  OutboxWriter,
} from '../../ports/outbox.js';
import { sendOutboxJob, type OutboxQueuePolicies } from '../jobs/outbox-queues.js';
import { kyselyExecutor } from '../jobs/pg-boss-executor.js';
import type { Database } from './schema.js';

/**
 * Writes an outbox row and its pg-boss delivery job in the caller's transaction. The cache invalidations it
 * wrote are remembered so the unit of work can also apply them right after commit.
 */
export class KyselyOutboxWriter implements OutboxWriter {
  readonly invalidations: CacheInvalidation[] = [];
  written = 0;

  constructor(
    private readonly tx: Kysely<Database>,
    private readonly boss: PgBoss,
    private readonly policies: OutboxQueuePolicies,
  ) {}

  async add<T extends OutboxTopic>(topic: T, payload: OutboxTopics[T]): Promise<void> {
    const policy = this.policies[topic];
    const jobId = randomUUID();
    const row = await this.tx
      .insertInto('outbox')
      .values({ topic, payload: JSON.stringify(payload), job_id: jobId })
      .returning('id')
      .executeTakeFirstOrThrow();
    await sendOutboxJob(this.boss, policy, { outboxId: String(row.id), jobId, db: kyselyExecutor(this.tx) });
    this.written += 1;
    if (topic === 'cache.invalidate') this.invalidations.push(payload as CacheInvalidation);
  }

  invalidate(target: CacheInvalidation): Promise<void> {
    return this.add('cache.invalidate', target);
  }
}

export class KyselyOutboxMonitor implements OutboxMonitor {
  constructor(private readonly db: Kysely<Database>) {}

  async backlog(): Promise<OutboxBacklog> {
    const byTopic = await this.db
      .selectFrom('outbox')
      .select([
        'topic',
        sql<number>`count(*) FILTER (WHERE status = 'pending')::int`.as('pending'),
        sql<number>`count(*) FILTER (WHERE status = 'dead')::int`.as('dead'),
        sql<Date | null>`min(created_at) FILTER (WHERE status = 'pending')`.as('oldest'),
      ])
      .where('status', 'in', ['pending', 'dead'])
      .groupBy('topic')
      .orderBy('topic')
      .execute();
    const recentDead = await this.db
      .selectFrom('outbox')
      .select(['id', 'topic', 'attempts', 'last_error', 'created_at'])
      .where('status', '=', 'dead')
      .orderBy('id', 'desc')
      .limit(20)
      .execute();
    const oldest = byTopic
      .map((t) => t.oldest)
      .filter((d): d is Date => d !== null)
      .reduce<Date | null>((min, d) => (min === null || d < min ? d : min), null);
    return {
      pending: byTopic.reduce((sum, t) => sum + t.pending, 0),
      dead: byTopic.reduce((sum, t) => sum + t.dead, 0),
      oldestPendingAgeSeconds: oldest ? Math.max(0, (Date.now() - new Date(oldest).getTime()) / 1000) : null,
      byTopic: byTopic.map((t) => ({ topic: t.topic, pending: t.pending, dead: t.dead })),
      recentDead: recentDead.map((r) => ({
        id: String(r.id),
        topic: r.topic,
        attempts: r.attempts,
        lastError: r.last_error,
        createdAt: r.created_at,
      })),
    };
  }
}
