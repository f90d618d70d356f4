import { sql, type Kysely } from 'kysely';
import type PgBoss from 'pg-boss';
import type { CreateQueue } from '../jobs/create-queue.js';

/**
 * Queue creation, one process at a time. Creating a queue is DDL (a partition of pg-boss's job table, with its
 * indexes and keys); processes starting together on a fresh database that create theirs at the same moment
 * deadlock, and PostgreSQL ends one of them after a second. Here each creation holds a transaction-scoped
 * advisory lock in a transaction of the shop's pool while pg-boss runs the DDL on its own connection: the
 * others wait their turn (and find the queue there). An existing queue is answered without the lock.
 */
export function serialisedQueueCreation<DB>(boss: PgBoss, db: Kysely<DB>): CreateQueue {
  return async (name, options) => {
    if (await boss.getQueue(name)) return;
    await underQueueLock(db, () => boss.createQueue(name, { ...options, name }));
  };
}

/**
 * Starts pg-boss under the same lock: a process that runs schedules creates pg-boss's own scheduling queue as
 * it starts, which would otherwise deadlock with another process creating a queue at that moment.
 */
export function startSerialised<DB>(boss: PgBoss, db: Kysely<DB>): Promise<unknown> {
  return underQueueLock(db, () => boss.start());
}

function underQueueLock<DB, T>(db: Kysely<DB>, work: () => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    await sql`SELECT pg_advisory_xact_lock(hashtextextended('keyshop:pg-boss-queues', 0))`.execute(tx);
    return work();
  });
}
