import { sql } from 'kysely';
import type { Db } from '../../src/adapters/postgres/db.js';
import { outboxRegistry } from '../../src/adapters/jobs/outbox-topics.js';
import { PG_BOSS_SCHEMA } from '../../src/adapters/jobs/outbox-worker.js';
import type { OutboxTopic, OutboxTopics } from '../../src/ports/outbox.js';

const registry = outboxRegistry({ emailMaxAttempts: 10 });

/** The pg-boss queue that carries a topic's messages. */
export const queueOf = (topic: OutboxTopic) => registry[topic].queue;

export interface OutboxJob<T extends OutboxTopic> {
  id: string;
  state: 'created' | 'retry' | 'active' | 'completed' | 'cancelled' | 'failed';
  payload: OutboxTopics[T];
  attempts: number;
  lastError: string | null;
}

/**
 * The outbox messages of a topic (pg-boss jobs), in the order they were written: by creation time, and within
 * one transaction (one `now()`) by physical order, which follows insertion for rows nothing has moved.
 */
export async function outboxJobs<T extends OutboxTopic>(db: Db, topic: T): Promise<OutboxJob<T>[]> {
  const rows = await sql<{
    id: string;
    state: OutboxJob<T>['state'];
    data: OutboxTopics[T];
    retry_count: number;
    started_on: Date | null;
    output: { message?: string } | null;
  }>`SELECT id, state, data, retry_count, started_on, output FROM ${sql.raw(PG_BOSS_SCHEMA)}.job
     WHERE name = ${queueOf(topic)} ORDER BY created_on, ctid`.execute(db);
  return rows.rows.map((row) => ({
    id: row.id,
    state: row.state,
    payload: row.data,
    attempts: row.started_on === null ? 0 : row.retry_count + 1,
    lastError: row.state === 'completed' ? null : (row.output?.message ?? null),
  }));
}

/** The payloads of a topic's messages, in the order they were written. */
export async function outboxPayloads<T extends OutboxTopic>(db: Db, topic: T): Promise<OutboxTopics[T][]> {
  return (await outboxJobs(db, topic)).map((job) => job.payload);
}

/** Forgets every message written so far, so a test can read back exactly what its next step writes. */
export async function clearOutbox(db: Db): Promise<void> {
  const queues = Object.values(registry).map((entry) => entry.queue);
  await sql`DELETE FROM ${sql.raw(PG_BOSS_SCHEMA)}.job WHERE name = ANY(${queues}::text[])`.execute(db);
}

/** How many messages of the outbox are not delivered yet (created, retrying or being delivered). */
export async function pendingOutbox(db: Db, topic?: OutboxTopic): Promise<number> {
  const queues = topic ? [queueOf(topic)] : Object.values(registry).map((entry) => entry.queue);
  const row = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.raw(PG_BOSS_SCHEMA)}.job
    WHERE name = ANY(${queues}::text[]) AND state < 'completed'`.execute(db);
  return row.rows[0]!.n;
}
