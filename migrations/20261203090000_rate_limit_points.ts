import type { Kysely } from 'kysely';

/**
 * The PostgreSQL store of rate-limiter-flexible (the per-address limits on password work and guest sessions):
 * its own layout, created here rather than by the library at run time. `expire` is epoch milliseconds.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rate_limit_points')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
  await db.schema
    .createIndex('rate_limit_points_expire_idx')
    .on('rate_limit_points')
    .column('expire')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limit_points').ifExists().execute();
}
