import type PgBoss from 'pg-boss';
import type { OutboxBacklog, OutboxMonitor } from '../../ports/outbox.js';
import { PG_BOSS_SCHEMA } from './outbox-worker.js';
import { outboxTopicNames, type OutboxRegistry } from './outbox-topics.js';

/** The outbox backlog read from pg-boss, whose jobs are the outbox messages. */
export class PgBossOutboxMonitor implements OutboxMonitor {
  private readonly topicOfQueue: Map<string, string>;

  constructor(
    private readonly boss: PgBoss,
    registry: OutboxRegistry,
  ) {
    this.topicOfQueue = new Map(outboxTopicNames(registry).map((topic) => [registry[topic].queue, topic]));
  }

  async backlog(): Promise<OutboxBacklog> {
    const queues = [...this.topicOfQueue.keys()];
    const db = this.boss.getDb();
    // pg-boss job states in order: created, retry, active (pending), completed, cancelled, failed (dead).
    const counts = await db.executeSql(
      `SELECT name,
         count(*) FILTER (WHERE state < 'completed')::int AS pending,
         count(*) FILTER (WHERE state = 'failed')::int AS dead,
         extract(epoch FROM now() - min(created_on) FILTER (WHERE state < 'completed'))::float8 AS oldest_age
       FROM ${PG_BOSS_SCHEMA}.job
       WHERE name = ANY($1::text[]) AND state IN ('created', 'retry', 'active', 'failed')
       GROUP BY name ORDER BY name`,
      [queues],
    );
    const dead = await db.executeSql(
      `SELECT id, name, retry_count, output->>'message' AS last_error, created_on
       FROM ${PG_BOSS_SCHEMA}.job
       WHERE name = ANY($1::text[]) AND state = 'failed'
       ORDER BY completed_on DESC LIMIT 20`,
      [queues],
    );
    // Every topic, those with nothing waiting too.
    const rows = new Map(
      (counts.rows as { name: string; pending: number; dead: number; oldest_age: number | null }[]).map(
        (row) => [row.name, row],
      ),
    );
    const byTopic = [...this.topicOfQueue]
      .map(([name, topic]) => ({ pending: 0, dead: 0, oldest_age: null, ...rows.get(name), name, topic }))
      .sort((a, b) => a.topic.localeCompare(b.topic));
    const ages = byTopic.map((t) => t.oldest_age).filter((age): age is number => age !== null);
    return {
      pending: byTopic.reduce((sum, t) => sum + t.pending, 0),
      dead: byTopic.reduce((sum, t) => sum + t.dead, 0),
      oldestPendingAgeSeconds: ages.length > 0 ? Math.max(0, ...ages) : null,
      byTopic: byTopic.map((t) => ({
        topic: t.topic,
        pending: t.pending,
        dead: t.dead,
        oldestPendingAgeSeconds: t.oldest_age === null ? null : Math.max(0, t.oldest_age),
      })),
      recentDead: (
        dead.rows as {
          id: string;
          name: string;
          retry_count: number;
          last_error: string | null;
          created_on: Date;
        }[]
      ).map((row) => ({
        id: row.id,
        topic: this.topicOfQueue.get(row.name)!,
        attempts: row.retry_count + 1,
        lastError: row.last_error,
        createdAt: new Date(row.created_on),
      })),
    };
  }
}

/** The oldest cache invalidation not yet applied, and the database's clock, both in epoch milliseconds. */
export interface PendingInvalidations {
  oldestCreatedMs: number | null;
  nowMs: number;
}

/** Reads how far behind the delivery of cache invalidations is (one indexed query on the cache queue). */
export function pendingInvalidationsReader(
  boss: PgBoss,
  registry: OutboxRegistry,
): () => Promise<PendingInvalidations> {
  const queue = registry['cache.invalidate'].queue;
  return async () => {
    const result = await boss.getDb().executeSql(
      `SELECT (extract(epoch FROM min(created_on)) * 1000)::float8 AS oldest,
              (extract(epoch FROM now()) * 1000)::float8 AS now
       FROM ${PG_BOSS_SCHEMA}.job
       WHERE name = $1 AND state < 'completed'`,
      [queue],
    );
    const row = (result.rows as { oldest: number | null; now: number }[])[0]!;
    return { oldestCreatedMs: row.oldest === null ? null : Number(row.oldest), nowMs: Number(row.now) };
  };
}
