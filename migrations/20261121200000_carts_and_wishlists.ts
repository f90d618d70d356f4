import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('cart_items')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('session_id', 'text', (c) => c.references('guest_sessions.id').onDelete('cascade'))
    .addColumn('game_id', 'uuid', (c) => c.notNull().references('games.id').onDelete('cascade'))
    .addColumn('quantity', 'integer', (c) => c.notNull().check(sql`quantity BETWEEN 1 AND 10`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('cart_items_one_owner', sql`num_nonnulls(user_id, session_id) = 1`)
    .execute();

  await db.schema
    .createTable('wishlist_items')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('session_id', 'text', (c) => c.references('guest_sessions.id').onDelete('cascade'))
    .addColumn('game_id', 'uuid', (c) => c.notNull().references('games.id').onDelete('cascade'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addCheckConstraint('wishlist_items_one_owner', sql`num_nonnulls(user_id, session_id) = 1`)
    .execute();

  for (const table of ['cart_items', 'wishlist_items']) {
    // One line per owner and game; the upserts name these indexes through their predicates.
    await sql`CREATE UNIQUE INDEX ${sql.raw(`${table}_user_game_key`)} ON ${sql.table(table)} (user_id, game_id) WHERE user_id IS NOT NULL`.execute(
      db,
    );
    await sql`CREATE UNIQUE INDEX ${sql.raw(`${table}_session_game_key`)} ON ${sql.table(table)} (session_id, game_id) WHERE session_id IS NOT NULL`.execute(
      db,
    );
    // A price or stock change finds the carts and wishlists that show the game.
    await db.schema.createIndex(`${table}_game_idx`).on(table).column('game_id').execute();
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('wishlist_items').ifExists().execute();
  await db.schema.dropTable('cart_items').ifExists().execute();
}
