import { sql, type Kysely } from 'kysely';

/**
 * What fulfilment keeps on each unit (its G2A order, payment, sealed key, the worker's lease, retries and an
 * operator flag), the G2A webhook events, and the shared G2A rate limiter's state for processes without Redis.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable('order_units')
    .addColumn('g2a_order_id', 'text', (c) => c.unique())
    .addColumn('g2a_price_cents', 'bigint')
    // Set before a create call leaves; a unit that has it without a G2A order id may have an order G2A made
    // but whose answer was lost.
    .addColumn('create_started_at', 'timestamptz')
    .addColumn('paid_at', 'timestamptz')
    .addColumn('key_ciphertext', 'bytea')
    .addColumn('key_iv', 'bytea')
    .addColumn('key_auth_tag', 'bytea')
    .addColumn('key_key_id', 'text')
    .addColumn('delivered_at', 'timestamptz')
    .addColumn('failure_reason', 'text')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('lease_owner', 'uuid')
    .addColumn('lease_until', 'timestamptz')
    .addColumn('flagged_at', 'timestamptz')
    .addColumn('flag_reason', 'text')
    .addColumn('last_error', 'text')
    .execute();
  await sql`ALTER TABLE order_units ADD CONSTRAINT order_units_key_whole CHECK (
    num_nonnulls(key_ciphertext, key_iv, key_auth_tag, key_key_id) IN (0, 4))`.execute(db);
  await sql`ALTER TABLE order_units ADD CONSTRAINT order_units_state_facts CHECK (
    (state <> 'ordered' OR g2a_order_id IS NOT NULL)
    AND (state <> 'paid' OR (g2a_order_id IS NOT NULL AND paid_at IS NOT NULL))
    AND (state <> 'delivered' OR (key_ciphertext IS NOT NULL AND delivered_at IS NOT NULL)))`.execute(db);
  // Units a reconciliation run drives on: not at an end yet, by when they are due.
  await sql`CREATE INDEX order_units_open_due_idx ON order_units (next_attempt_at)
            WHERE state IN ('pending', 'ordered', 'paid')`.execute(db);
  await sql`CREATE INDEX order_units_flagged_idx ON order_units (flagged_at) WHERE flagged_at IS NOT NULL`.execute(
    db,
  );

  // A key is written once: a second fetch never overwrites it, and a refund never erases it.
  await sql`
    CREATE FUNCTION order_units_key_written_once() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.key_ciphertext IS NOT NULL AND (NEW.key_ciphertext IS DISTINCT FROM OLD.key_ciphertext
         OR NEW.key_iv IS DISTINCT FROM OLD.key_iv OR NEW.key_auth_tag IS DISTINCT FROM OLD.key_auth_tag
         OR NEW.key_key_id IS DISTINCT FROM OLD.key_key_id) THEN
        RAISE EXCEPTION 'the key of unit % is already stored', OLD.id USING ERRCODE = 'check_violation';
      END IF;
      IF OLD.g2a_order_id IS NOT NULL AND NEW.g2a_order_id IS DISTINCT FROM OLD.g2a_order_id THEN
        RAISE EXCEPTION 'unit % already has G2A order %', OLD.id, OLD.g2a_order_id USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER order_units_key_written_once BEFORE UPDATE ON order_units
            FOR EACH ROW EXECUTE FUNCTION order_units_key_written_once()`.execute(db);

  await db.schema
    .createTable('g2a_webhook_events')
    .addColumn('event_id', 'text', (c) => c.primaryKey())
    .addColumn('g2a_order_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('applied_at', 'timestamptz')
    .execute();
  await sql`CREATE INDEX g2a_webhook_events_unapplied_idx ON g2a_webhook_events (g2a_order_id)
            WHERE applied_at IS NULL`.execute(db);

  await db.schema
    .createTable('rate_limiters')
    .addColumn('name', 'text', (c) => c.primaryKey())
    // GCRA's theoretical arrival time, in ms of the database clock.
    .addColumn('tat_ms', 'double precision', (c) => c.notNull())
    .addColumn('demand_until_ms', 'double precision', (c) => c.notNull().defaultTo(0))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limiters').ifExists().execute();
  await db.schema.dropTable('g2a_webhook_events').ifExists().execute();
  await sql`DROP TRIGGER IF EXISTS order_units_key_written_once ON order_units`.execute(db);
  await sql`DROP FUNCTION IF EXISTS order_units_key_written_once()`.execute(db);
  await db.schema.alterTable('order_units').dropConstraint('order_units_state_facts').execute();
  await db.schema.alterTable('order_units').dropConstraint('order_units_key_whole').execute();
  for (const column of [
    'g2a_order_id',
    'g2a_price_cents',
    'create_started_at',
    'paid_at',
    'key_ciphertext',
    'key_iv',
    'key_auth_tag',
    'key_key_id',
    'delivered_at',
    'failure_reason',
    'attempts',
    'next_attempt_at',
    'lease_owner',
    'lease_until',
    'flagged_at',
    'flag_reason',
    'last_error',
  ]) {
    await db.schema.alterTable('order_units').dropColumn(column).execute();
  }
}
