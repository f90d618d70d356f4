import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['platforms', 'categories', 'genres']) {
    await db.schema
      .createTable(table)
      .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
      .addColumn('slug', 'text', (c) => c.notNull().unique())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
      .execute();
  }
  await db.schema
    .alterTable('categories')
    .addColumn('g2a_category_id', 'integer', (c) => c.unique())
    .execute();

  await db.schema
    .createTable('games')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('g2a_product_id', 'text', (c) => c.notNull().unique())
    .addColumn('slug', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    .addColumn('platform_id', 'uuid', (c) => c.references('platforms.id'))
    .addColumn('region', 'text')
    .addColumn('region_slug', 'text')
    .addColumn('thumbnail', 'text')
    .addColumn('cover_image', 'text')
    .addColumn('release_date', 'date')
    .addColumn('cost_cents', 'bigint', (c) => c.notNull().check(sql`cost_cents >= 0`))
    .addColumn('price_cents', 'bigint', (c) => c.notNull().check(sql`price_cents >= 0`))
    .addColumn('retail_price_cents', 'bigint')
    .addColumn('currency', 'text', (c) => c.notNull().defaultTo('EUR'))
    .addColumn('qty', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('available_to_buy', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('delisted', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('delisted_at', 'timestamptz')
    .addColumn('popularity', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('g2a_updated_at', 'timestamptz')
    .addColumn('last_seen_run_id', 'uuid')
    .addColumn('last_synced_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Listing indexes: every list leaves delisted games out, so the partial indexes stay small.
  await sql`CREATE INDEX games_listed_price_idx ON games (price_cents, id) WHERE NOT delisted`.execute(db);
  await sql`CREATE INDEX games_listed_name_idx ON games (lower(name), id) WHERE NOT delisted`.execute(db);
  await sql`CREATE INDEX games_listed_release_idx ON games (release_date DESC NULLS LAST, id) WHERE NOT delisted`.execute(
    db,
  );
  await sql`CREATE INDEX games_listed_popularity_idx ON games (popularity DESC, id) WHERE NOT delisted`.execute(
    db,
  );
  await sql`CREATE INDEX games_platform_idx ON games (platform_id) WHERE NOT delisted`.execute(db);
  await sql`CREATE INDEX games_region_idx ON games (region_slug) WHERE NOT delisted`.execute(db);

  for (const [table, target] of [
    ['game_categories', 'categories'],
    ['game_genres', 'genres'],
  ] as const) {
    const column = target === 'categories' ? 'category_id' : 'genre_id';
    await db.schema
      .createTable(table)
      .addColumn('game_id', 'uuid', (c) => c.notNull().references('games.id').onDelete('cascade'))
      .addColumn(column, 'uuid', (c) => c.notNull().references(`${target}.id`).onDelete('cascade'))
      // 'g2a' links are replaced by every sync; 'shop' links are the shop's own curation and survive it.
      .addColumn('source', 'text', (c) =>
        c
          .notNull()
          .defaultTo('shop')
          .check(sql`source IN ('g2a', 'shop')`),
      )
      .addPrimaryKeyConstraint(`${table}_pk`, ['game_id', column])
      .execute();
    await db.schema.createIndex(`${table}_${column}_idx`).on(table).column(column).execute();
  }

  await db.schema
    .createTable('sync_runs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind IN ('catalog', 'stock')`))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status IN ('queued', 'running', 'finished', 'failed', 'skipped')`),
    )
    .addColumn('trigger', 'text', (c) => c.notNull().check(sql`trigger IN ('manual', 'schedule')`))
    .addColumn('last_page', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pages_done', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('pages_total', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('upserted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('changed', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    .addColumn('job_id', 'uuid')
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('heartbeat_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // At most one catalogue or stock run queued or running, whatever its kind: the two exclude each other.
  await sql`CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs ((true)) WHERE status IN ('queued', 'running')`.execute(
    db,
  );
  await sql`CREATE INDEX sync_runs_created_idx ON sync_runs (created_at DESC)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of [
    'sync_runs',
    'game_genres',
    'game_categories',
    'games',
    'genres',
    'categories',
    'platforms',
  ]) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
