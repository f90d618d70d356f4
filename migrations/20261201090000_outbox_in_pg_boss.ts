import { sql, type Kysely } from 'kysely';

/**
 * Outbox messages are pg-boss jobs, written in the caller's transaction: the job's state is the message's
 * delivery state, so the table that mirrored it goes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('outbox').ifExists().execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('outbox')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('topic', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status IN ('pending', 'done', 'dead')`),
    )
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('job_id', 'uuid')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('processed_at', 'timestamptz')
    .execute();
  await sql`CREATE INDEX outbox_pending_idx ON outbox (created_at) WHERE status = 'pending'`.execute(db);
  await sql`CREATE INDEX outbox_dead_idx ON outbox (created_at) WHERE status = 'dead'`.execute(db);
}
