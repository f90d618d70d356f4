import { sql, type Kysely } from 'kysely';

/**
 * Orders, their lines and units, the wallet ledger and idempotency keys. The money invariants are the
 * database's: a balance never below zero; every balance change a ledger row whose `balance_after_cents`
 * continues the user's chain (so the last one is the sum of every amount) and equals the user's balance at
 * commit; an order's purchase row charging exactly its lines; one refund per unit; one top-up per reference.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('orders')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('restrict'))
    .addColumn('status', 'text', (c) =>
      c.notNull().check(sql`status IN ('paid', 'processing', 'completed', 'partially_refunded', 'refunded')`),
    )
    .addColumn('total_cents', 'bigint', (c) => c.notNull().check(sql`total_cents >= 0`))
    .addColumn('currency', 'text', (c) => c.notNull().defaultTo('EUR'))
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source IN ('cart', 'items')`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await sql`CREATE INDEX orders_user_newest_idx ON orders (user_id, created_at DESC, id DESC)`.execute(db);

  await db.schema
    .createTable('order_lines')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id').onDelete('cascade'))
    .addColumn('position', 'integer', (c) => c.notNull())
    .addColumn('game_id', 'uuid', (c) => c.notNull().references('games.id').onDelete('restrict'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('g2a_product_id', 'text', (c) => c.notNull())
    .addColumn('quantity', 'integer', (c) => c.notNull().check(sql`quantity BETWEEN 1 AND 10`))
    .addColumn('unit_price_cents', 'bigint', (c) => c.notNull().check(sql`unit_price_cents >= 0`))
    .addColumn('unit_cost_cents', 'bigint', (c) => c.notNull().check(sql`unit_cost_cents >= 0`))
    .addUniqueConstraint('order_lines_order_game_key', ['order_id', 'game_id'])
    .addUniqueConstraint('order_lines_order_position_key', ['order_id', 'position'])
    .execute();

  await db.schema
    .createTable('order_units')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('order_id', 'uuid', (c) => c.notNull().references('orders.id').onDelete('cascade'))
    .addColumn('line_id', 'uuid', (c) => c.notNull().references('order_lines.id').onDelete('cascade'))
    .addColumn('state', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`state IN ('pending', 'ordered', 'paid', 'delivered', 'failed', 'refunded')`),
    )
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('order_units_order_idx').on('order_units').column('order_id').execute();

  await db.schema
    .createTable('transactions')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('restrict'))
    // The user's entries numbered 1, 2, 3 …, set by the chain trigger below.
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull().check(sql`type IN ('top_up', 'purchase', 'refund')`))
    .addColumn('amount_cents', 'bigint', (c) => c.notNull())
    .addColumn('balance_after_cents', 'bigint', (c) => c.notNull().check(sql`balance_after_cents >= 0`))
    .addColumn('order_id', 'uuid', (c) => c.references('orders.id').onDelete('restrict'))
    .addColumn('order_unit_id', 'uuid', (c) => c.references('order_units.id').onDelete('restrict'))
    .addColumn('reference', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('transactions_user_seq_key', ['user_id', 'seq'])
    .addCheckConstraint(
      'transactions_shape',
      sql`(type = 'top_up' AND amount_cents > 0 AND reference IS NOT NULL AND order_id IS NULL AND order_unit_id IS NULL)
       OR (type = 'purchase' AND amount_cents <= 0 AND order_id IS NOT NULL AND order_unit_id IS NULL)
       OR (type = 'refund' AND amount_cents >= 0 AND order_id IS NOT NULL AND order_unit_id IS NOT NULL)`,
    )
    .execute();
  await sql`CREATE UNIQUE INDEX transactions_top_up_reference_key ON transactions (reference) WHERE type = 'top_up'`.execute(
    db,
  );
  await sql`CREATE UNIQUE INDEX transactions_refund_unit_key ON transactions (order_unit_id) WHERE type = 'refund'`.execute(
    db,
  );
  await sql`CREATE UNIQUE INDEX transactions_purchase_order_key ON transactions (order_id) WHERE type = 'purchase'`.execute(
    db,
  );
  await sql`CREATE INDEX transactions_order_idx ON transactions (order_id) WHERE order_id IS NOT NULL`.execute(
    db,
  );

  // Each entry continues its user's chain: the next number, and the previous balance plus its amount. The
  // caller holds the user's row lock, so entries of one user are never inserted concurrently.
  await sql`
    CREATE FUNCTION transactions_chain() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE previous RECORD;
    BEGIN
      SELECT seq, balance_after_cents INTO previous FROM transactions
        WHERE user_id = NEW.user_id ORDER BY seq DESC LIMIT 1;
      NEW.seq := COALESCE(previous.seq, 0) + 1;
      NEW.balance_after_cents := COALESCE(previous.balance_after_cents, 0) + NEW.amount_cents;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER transactions_chain BEFORE INSERT ON transactions
            FOR EACH ROW EXECUTE FUNCTION transactions_chain()`.execute(db);

  // An entry belongs to the order it names: a purchase or refund is the order owner's, a refund gives back
  // exactly what the unit cost, for a unit of that order.
  await sql`
    CREATE FUNCTION transactions_match_order() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE owner uuid; unit_order uuid; unit_price bigint;
    BEGIN
      IF NEW.order_id IS NOT NULL THEN
        SELECT user_id INTO owner FROM orders WHERE id = NEW.order_id;
        IF owner IS DISTINCT FROM NEW.user_id THEN
          RAISE EXCEPTION 'order % is not a purchase of user %', NEW.order_id, NEW.user_id
            USING ERRCODE = 'check_violation';
        END IF;
      END IF;
      IF NEW.type = 'refund' THEN
        SELECT u.order_id, l.unit_price_cents INTO unit_order, unit_price
          FROM order_units u JOIN order_lines l ON l.id = u.line_id WHERE u.id = NEW.order_unit_id;
        IF unit_order IS DISTINCT FROM NEW.order_id OR unit_price IS DISTINCT FROM NEW.amount_cents THEN
          RAISE EXCEPTION 'a refund of unit % gives back its price % to its order %', NEW.order_unit_id, unit_price, unit_order
            USING ERRCODE = 'check_violation';
        END IF;
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER transactions_match_order BEFORE INSERT ON transactions
            FOR EACH ROW EXECUTE FUNCTION transactions_match_order()`.execute(db);

  // What was charged and bought is history: ledger entries, order lines, an order's owner and total, and its
  // units are never changed (units only move between states) or removed.
  await sql`
    CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '% rows are never changed or removed (%)', TG_TABLE_NAME, TG_OP
      USING ERRCODE = 'check_violation'; END $$`.execute(db);
  await sql`CREATE TRIGGER transactions_append_only BEFORE UPDATE OR DELETE ON transactions
            FOR EACH ROW EXECUTE FUNCTION refuse_change()`.execute(db);
  await sql`CREATE TRIGGER order_lines_immutable BEFORE UPDATE OR DELETE ON order_lines
            FOR EACH ROW EXECUTE FUNCTION refuse_change()`.execute(db);
  await sql`CREATE TRIGGER order_units_kept BEFORE DELETE ON order_units
            FOR EACH ROW EXECUTE FUNCTION refuse_change()`.execute(db);
  await sql`CREATE TRIGGER orders_kept BEFORE DELETE ON orders
            FOR EACH ROW EXECUTE FUNCTION refuse_change()`.execute(db);
  for (const table of ['transactions', 'order_lines', 'order_units', 'orders']) {
    await sql`CREATE TRIGGER ${sql.raw(`${table}_no_truncate`)} BEFORE TRUNCATE ON ${sql.table(table)}
              FOR EACH STATEMENT EXECUTE FUNCTION refuse_change()`.execute(db);
  }
  await sql`
    CREATE FUNCTION orders_fixed_terms() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.user_id <> OLD.user_id OR NEW.total_cents <> OLD.total_cents OR NEW.currency <> OLD.currency
         OR NEW.source <> OLD.source OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'order % keeps its owner, total and date', OLD.id USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER orders_fixed_terms BEFORE UPDATE ON orders
            FOR EACH ROW EXECUTE FUNCTION orders_fixed_terms()`.execute(db);
  await sql`
    CREATE FUNCTION order_units_fixed_terms() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.order_id <> OLD.order_id OR NEW.line_id <> OLD.line_id THEN
        RAISE EXCEPTION 'unit % keeps its order and line', OLD.id USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$`.execute(db);
  await sql`CREATE TRIGGER order_units_fixed_terms BEFORE UPDATE ON order_units
            FOR EACH ROW EXECUTE FUNCTION order_units_fixed_terms()`.execute(db);

  // At commit: a user's balance is the balance after their last entry (0 without entries).
  await sql`
    CREATE FUNCTION ledger_matches_balance() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      owner uuid;
      balance bigint;
      last_balance bigint;
    BEGIN
      IF TG_TABLE_NAME = 'users' THEN owner := NEW.id; ELSE owner := NEW.user_id; END IF;
      SELECT balance_cents INTO balance FROM users WHERE id = owner;
      SELECT balance_after_cents INTO last_balance FROM transactions
        WHERE user_id = owner ORDER BY seq DESC LIMIT 1;
      IF balance IS DISTINCT FROM COALESCE(last_balance, 0) THEN
        RAISE EXCEPTION 'balance of user % is % but its ledger ends at %', owner, balance, COALESCE(last_balance, 0)
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE CONSTRAINT TRIGGER users_balance_in_ledger AFTER UPDATE OF balance_cents ON users
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
            WHEN (OLD.balance_cents IS DISTINCT FROM NEW.balance_cents)
            EXECUTE FUNCTION ledger_matches_balance()`.execute(db);
  await sql`CREATE CONSTRAINT TRIGGER users_start_in_ledger AFTER INSERT ON users
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.balance_cents <> 0)
            EXECUTE FUNCTION ledger_matches_balance()`.execute(db);
  await sql`CREATE CONSTRAINT TRIGGER transactions_in_balance AFTER INSERT ON transactions
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_matches_balance()`.execute(db);

  // At commit: an order is charged exactly its lines by one purchase entry, and has one unit per key bought.
  await sql`
    CREATE FUNCTION order_is_paid_for() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      lines_total bigint;
      units_wanted bigint;
      units_made bigint;
      charged bigint;
    BEGIN
      SELECT COALESCE(sum(quantity * unit_price_cents), 0), COALESCE(sum(quantity), 0)
        INTO lines_total, units_wanted FROM order_lines WHERE order_id = NEW.id;
      SELECT count(*) INTO units_made FROM order_units WHERE order_id = NEW.id;
      SELECT -amount_cents INTO charged FROM transactions WHERE order_id = NEW.id AND type = 'purchase';
      IF lines_total <> NEW.total_cents OR charged IS DISTINCT FROM NEW.total_cents OR units_made <> units_wanted
         OR units_wanted = 0 THEN
        RAISE EXCEPTION 'order % totals %, its lines % (% units, % made), its purchase entry %',
          NEW.id, NEW.total_cents, lines_total, units_wanted, units_made, charged
          USING ERRCODE = 'check_violation';
      END IF;
      RETURN NULL;
    END $$`.execute(db);
  await sql`CREATE CONSTRAINT TRIGGER orders_paid_for AFTER INSERT ON orders
            DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION order_is_paid_for()`.execute(db);

  // A key's stored response, written in the transaction that produced it; a request running with the key holds
  // a transaction-scoped advisory lock on it instead of a row (nothing is left behind by a crash).
  await db.schema
    .createTable('idempotency_keys')
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('request_hash', 'text', (c) => c.notNull())
    .addColumn('response_status', 'integer', (c) => c.notNull())
    .addColumn('response_body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('idempotency_keys_pkey', ['user_id', 'key'])
    .execute();
  await db.schema
    .createIndex('idempotency_keys_created_idx')
    .on('idempotency_keys')
    .column('created_at')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('idempotency_keys').ifExists().execute();
  await sql`DROP TRIGGER IF EXISTS users_balance_in_ledger ON users`.execute(db);
  await sql`DROP TRIGGER IF EXISTS users_start_in_ledger ON users`.execute(db);
  await db.schema.dropTable('transactions').ifExists().execute();
  await db.schema.dropTable('order_units').ifExists().execute();
  await db.schema.dropTable('order_lines').ifExists().execute();
  await db.schema.dropTable('orders').ifExists().execute();
  for (const fn of [
    'transactions_chain',
    'transactions_append_only',
    'ledger_matches_balance',
    'order_is_paid_for',
  ]) {
    await sql`DROP FUNCTION IF EXISTS ${sql.raw(fn)}()`.execute(db);
  }
}
