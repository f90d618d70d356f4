import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/adapters/postgres/schema.js';
import { deferred } from '../support/deferred.js';
import { insertGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';
import { balanceOf, fund, ledgerOf, order } from '../support/wallet.js';

// The money invariants are the database's (migration 20261201100000): straight SQL, no repository, must be
// refused by PostgreSQL itself, at the statement or at COMMIT.

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

type Tx = Transaction<Database>;

const CHECK_VIOLATION = '23514';
const UNIQUE_VIOLATION = '23505';

/** Thrown to roll a transaction back on purpose. */
class Rollback extends Error {}

/**
 * Runs `work` in a transaction and commits it. Answers where it failed: `statement` when a statement of `work`
 * was refused, `commit` when every statement passed and COMMIT was refused, or `committed`.
 */
async function attempt(work: (tx: Tx) => Promise<unknown>) {
  let reachedCommit = false;
  try {
    await ground.db.transaction().execute(async (tx) => {
      await work(tx);
      reachedCommit = true;
    });
    return { at: 'committed' as const, error: undefined };
  } catch (error) {
    return { at: reachedCommit ? ('commit' as const) : ('statement' as const), error };
  }
}

/** Runs `work` in a transaction that is always rolled back; answers the error of `work`, if any. */
async function rolledBack(work: (tx: Tx) => Promise<unknown>): Promise<unknown> {
  let failure: unknown;
  await ground.db
    .transaction()
    .execute(async (tx) => {
      try {
        await work(tx);
      } catch (error) {
        failure = error;
      }
      throw new Rollback();
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error;
    });
  return failure;
}

async function entry(
  tx: Tx,
  userId: string,
  values: {
    type: 'top_up' | 'purchase' | 'refund';
    amount: number;
    reference?: string;
    orderId?: string;
    unitId?: string;
  },
) {
  await sql`INSERT INTO transactions (user_id, type, amount_cents, reference, order_id, order_unit_id)
    VALUES (${userId}, ${values.type}, ${values.amount}, ${values.reference ?? null}, ${values.orderId ?? null},
            ${values.unitId ?? null})`.execute(tx);
}

async function changeBalance(tx: Tx, userId: string, by: number) {
  await sql`UPDATE users SET balance_cents = balance_cents + ${by} WHERE id = ${userId}`.execute(tx);
}

/** A top-up as the shop writes it: the entry and the balance change, in the caller's transaction. */
async function topUp(tx: Tx, userId: string, amount: number, reference = `ref-${randomUUID()}`) {
  await entry(tx, userId, { type: 'top_up', amount, reference });
  await changeBalance(tx, userId, amount);
}

/**
 * Writes an order of `quantity` × `unitPrice` of a fresh game, in the caller's transaction, with what the
 * options leave in: its units (one per key), its purchase entry of `charge` (default: the total) and the
 * balance change. Answers its id and its units.
 */
async function writeOrder(
  tx: Tx,
  userId: string,
  options: {
    quantity?: number;
    unitPrice?: number;
    total?: number;
    charge?: number;
    units?: boolean;
    lines?: boolean;
    purchase?: boolean;
  } = {},
) {
  const quantity = options.quantity ?? 1;
  const unitPrice = options.unitPrice ?? 1020;
  const total = options.total ?? quantity * unitPrice;
  const gameId = await insertGame(ground.db, { priceCents: unitPrice });
  const orderRow = await sql<{ id: string }>`INSERT INTO orders (user_id, status, total_cents, source)
    VALUES (${userId}, 'paid', ${total}, 'items') RETURNING id`.execute(tx);
  const orderId = orderRow.rows[0]!.id;
  let unitIds: string[] = [];
  if (options.lines !== false) {
    const line = await sql<{ id: string }>`INSERT INTO order_lines
        (order_id, position, game_id, name, g2a_product_id, quantity, unit_price_cents, unit_cost_cents)
      VALUES (${orderId}, 0, ${gameId}, 'Game', 'g2a-1', ${quantity}, ${unitPrice}, ${unitPrice - 20})
      RETURNING id`.execute(tx);
    if (options.units !== false) {
      const units = await sql<{ id: string }>`INSERT INTO order_units (order_id, line_id)
        SELECT ${orderId}, ${line.rows[0]!.id} FROM generate_series(1, ${quantity}) RETURNING id`.execute(tx);
      unitIds = units.rows.map((row) => row.id);
    }
  }
  if (options.purchase !== false) {
    const charge = options.charge ?? total;
    await entry(tx, userId, { type: 'purchase', amount: -charge, orderId });
    await changeBalance(tx, userId, -charge);
  }
  return { orderId, unitIds };
}

/** A fresh user with a committed top-up of this much. */
async function walletWith(amount: number): Promise<string> {
  const userId = await ground.newUser();
  if (amount > 0) await ground.db.transaction().execute((tx) => topUp(tx, userId, amount));
  return userId;
}

describe('the ledger chain', () => {
  it('numbers a user’s entries 1, 2, 3 with the running balance, whatever the INSERT says', async () => {
    const userId = await ground.newUser();
    const other = await walletWith(999);

    await ground.db.transaction().execute((tx) => topUp(tx, userId, 5000));
    const { orderId } = await ground.db
      .transaction()
      .execute((tx) => writeOrder(tx, userId, { quantity: 2 }));
    await ground.db.transaction().execute(async (tx) => {
      // seq and balance_after_cents are the chain's: made-up values are overwritten.
      await sql`INSERT INTO transactions (user_id, seq, type, amount_cents, balance_after_cents, reference)
        VALUES (${userId}, 42, 'top_up', 300, 1000000, ${`ref-${randomUUID()}`})`.execute(tx);
      await changeBalance(tx, userId, 300);
    });

    const ledger = await ledgerOf(ground, userId);
    expect(ledger.map((row) => [row.seq, row.type, row.amount_cents, row.balance_after_cents])).toEqual([
      [1, 'top_up', 5000, 5000],
      [2, 'purchase', -2040, 2960],
      [3, 'top_up', 300, 3260],
    ]);
    expect(ledger[1]!.order_id).toBe(orderId);
    expect(await balanceOf(ground, userId)).toBe(3260);
    expect((await ledgerOf(ground, other)).map((row) => [row.seq, row.balance_after_cents])).toEqual([
      [1, 999],
    ]);
  });

  it('numbers several entries of one statement in order', async () => {
    const userId = await ground.newUser();

    await ground.db.transaction().execute(async (tx) => {
      await sql`INSERT INTO transactions (user_id, type, amount_cents, reference) VALUES
        (${userId}, 'top_up', 100, ${randomUUID()}), (${userId}, 'top_up', 200, ${randomUUID()})`.execute(tx);
      await changeBalance(tx, userId, 300);
    });

    expect((await ledgerOf(ground, userId)).map((row) => [row.seq, row.balance_after_cents])).toEqual([
      [1, 100],
      [2, 300],
    ]);
  });

  it('cannot fork: an entry racing another of the same user without the wallet lock is refused', async () => {
    const userId = await ground.newUser();
    const inserted = deferred();
    const release = deferred();
    const first = ground.db.transaction().execute(async (tx) => {
      await topUp(tx, userId, 100);
      inserted.resolve();
      await release.promise;
    });
    await inserted.promise;

    // Sees no committed entry, takes seq 1 too, waits on the unique (user_id, seq) index for the first.
    const second = attempt((tx) =>
      entry(tx, userId, { type: 'top_up', amount: 50, reference: randomUUID() }),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    release.resolve();
    await first;

    const outcome = await second;
    expect(outcome.at).toBe('statement');
    expect(outcome.error).toMatchObject({ code: UNIQUE_VIOLATION, constraint: 'transactions_user_seq_key' });
    expect((await ledgerOf(ground, userId)).map((row) => row.amount_cents)).toEqual([100]);
  });
});

describe('the database refuses', () => {
  it('a balance change without a ledger entry, at COMMIT', async () => {
    const userId = await walletWith(1000);

    const outcome = await attempt((tx) => changeBalance(tx, userId, 500));
    const alone = await ground.db
      .updateTable('users')
      .set({ balance_cents: 0 })
      .where('id', '=', userId)
      .execute()
      .then(
        () => undefined,
        (error: unknown) => error,
      );

    expect(outcome.at).toBe('commit');
    expect(outcome.error).toMatchObject({
      code: CHECK_VIOLATION,
      message: expect.stringMatching(/ledger ends at/),
    });
    expect(alone).toMatchObject({ code: CHECK_VIOLATION });
    expect(await balanceOf(ground, userId)).toBe(1000);
  });

  it('a ledger entry without the balance change, or with another one, at COMMIT', async () => {
    const userId = await walletWith(1000);

    const without = await attempt((tx) =>
      entry(tx, userId, { type: 'top_up', amount: 10, reference: randomUUID() }),
    );
    const mismatched = await attempt(async (tx) => {
      await entry(tx, userId, { type: 'top_up', amount: 10, reference: randomUUID() });
      await changeBalance(tx, userId, 11);
    });

    expect(without).toMatchObject({ at: 'commit', error: { code: CHECK_VIOLATION } });
    expect(mismatched).toMatchObject({ at: 'commit', error: { code: CHECK_VIOLATION } });
    expect(await ledgerOf(ground, userId)).toHaveLength(1);
  });

  it('an entry whose balance after would be negative, at the statement', async () => {
    const userId = await walletWith(1000);

    const outcome = await attempt((tx) => writeOrder(tx, userId, { unitPrice: 1020 }));

    expect(outcome.at).toBe('statement');
    expect(outcome.error).toMatchObject({
      code: CHECK_VIOLATION,
      constraint: 'transactions_balance_after_cents_check',
    });
    expect(await balanceOf(ground, userId)).toBe(1000);
    expect(await ground.db.selectFrom('orders').where('user_id', '=', userId).selectAll().execute()).toEqual(
      [],
    );
  });

  it('a balance below zero', async () => {
    const userId = await walletWith(0);

    const outcome = await attempt((tx) => changeBalance(tx, userId, -1));

    expect(outcome.at).toBe('statement');
    expect(outcome.error).toMatchObject({ code: CHECK_VIOLATION, constraint: 'users_balance_cents_check' });
  });

  it('updating a ledger entry, whatever the column', async () => {
    const userId = await walletWith(1000);
    const [row] = await ledgerOf(ground, userId);

    for (const change of [
      sql`UPDATE transactions SET amount_cents = 5000 WHERE id = ${row!.id}`,
      sql`UPDATE transactions SET reference = 'other' WHERE id = ${row!.id}`,
      sql`UPDATE transactions SET created_at = now() - interval '1 day' WHERE user_id = ${userId}`,
    ]) {
      const outcome = await attempt((tx) => change.execute(tx));
      expect(outcome).toMatchObject({
        at: 'statement',
        error: { code: CHECK_VIOLATION, message: expect.stringMatching(/never changed or removed/) },
      });
    }
    expect(await ledgerOf(ground, userId)).toEqual([row]);
  });

  it('deleting a ledger entry', async () => {
    const userId = await walletWith(1000);

    const outcome = await attempt(async (tx) => {
      await sql`DELETE FROM transactions WHERE user_id = ${userId}`.execute(tx);
      await sql`UPDATE users SET balance_cents = 0 WHERE id = ${userId}`.execute(tx);
    });

    expect(outcome).toMatchObject({ at: 'statement', error: { code: CHECK_VIOLATION } });
    expect(await ledgerOf(ground, userId)).toHaveLength(1);
  });

  it('a second refund entry for one unit', async () => {
    const userId = await ground.newUser();
    await fund(ground, userId, 5000);
    const gameId = await insertGame(ground.db, { priceCents: 1020 });
    const placed = await order(ground, { userId, items: [{ gameId, quantity: 2 }] });
    const [unit, otherUnit] = (await ground.readers.orders.findById(placed.id))!.units;
    const refundOf = (unitId: string) => (tx: Tx) =>
      entry(tx, userId, { type: 'refund', amount: 1020, orderId: placed.id, unitId }).then(() =>
        changeBalance(tx, userId, 1020),
      );
    expect((await attempt(refundOf(unit!.id))).at).toBe('committed');

    const again = await attempt(refundOf(unit!.id));
    const both = await attempt(async (tx) => {
      await refundOf(otherUnit!.id)(tx);
      await refundOf(otherUnit!.id)(tx);
    });

    expect(again).toMatchObject({
      at: 'statement',
      error: { code: UNIQUE_VIOLATION, constraint: 'transactions_refund_unit_key' },
    });
    expect(both).toMatchObject({ at: 'statement', error: { code: UNIQUE_VIOLATION } });
    expect(await balanceOf(ground, userId)).toBe(5000 - 2040 + 1020);
  });

  it('two top-ups with one reference, for one user or for two', async () => {
    const alice = await ground.newUser();
    const bob = await ground.newUser();
    const reference = `ref-${randomUUID()}`;
    expect((await attempt((tx) => topUp(tx, alice, 100, reference))).at).toBe('committed');

    const sameUser = await attempt((tx) => topUp(tx, alice, 100, reference));
    const otherUser = await attempt((tx) => topUp(tx, bob, 100, reference));

    for (const outcome of [sameUser, otherUser]) {
      expect(outcome).toMatchObject({
        at: 'statement',
        error: { code: UNIQUE_VIOLATION, constraint: 'transactions_top_up_reference_key' },
      });
    }
    expect(await balanceOf(ground, alice)).toBe(100);
    expect(await balanceOf(ground, bob)).toBe(0);
  });

  it('entries of the wrong shape', async () => {
    const userId = await walletWith(1000);
    const { orderId, unitIds } = await ground.db
      .transaction()
      .execute((tx) => writeOrder(tx, userId, { unitPrice: 100 }));

    for (const wrong of [
      { type: 'top_up' as const, amount: -5, reference: randomUUID() },
      { type: 'top_up' as const, amount: 5 },
      { type: 'top_up' as const, amount: 5, reference: randomUUID(), orderId },
      { type: 'purchase' as const, amount: 5, orderId },
      { type: 'purchase' as const, amount: -5 },
      { type: 'refund' as const, amount: 5, orderId },
      { type: 'refund' as const, amount: -5, orderId, unitId: unitIds[0] },
    ]) {
      const outcome = await attempt((tx) => entry(tx, userId, wrong));
      // Refused by the shape constraint, or earlier by the trigger that ties an entry to its order.
      expect({ wrong, outcome }).toMatchObject({
        outcome: { at: 'statement', error: { code: CHECK_VIOLATION } },
      });
    }
  });

  it('a second purchase entry for one order', async () => {
    const userId = await walletWith(5000);
    const { orderId } = await ground.db.transaction().execute((tx) => writeOrder(tx, userId));

    const outcome = await attempt(async (tx) => {
      await entry(tx, userId, { type: 'purchase', amount: -1020, orderId });
      await changeBalance(tx, userId, -1020);
    });

    expect(outcome).toMatchObject({
      at: 'statement',
      error: { code: UNIQUE_VIOLATION, constraint: 'transactions_purchase_order_key' },
    });
  });

  it('a purchase entry that does not equal the order total, at COMMIT', async () => {
    const userId = await walletWith(5000);

    const less = await attempt((tx) => writeOrder(tx, userId, { unitPrice: 1020, charge: 1000 }));
    const more = await attempt((tx) => writeOrder(tx, userId, { unitPrice: 1020, charge: 1100 }));

    for (const outcome of [less, more]) {
      expect(outcome).toMatchObject({
        at: 'commit',
        error: { code: CHECK_VIOLATION, message: expect.stringMatching(/its purchase entry/) },
      });
    }
    expect(await balanceOf(ground, userId)).toBe(5000);
  });

  it('an order whose total is not its lines, even when the purchase entry charges the total, at COMMIT', async () => {
    const userId = await walletWith(5000);

    const outcome = await attempt((tx) =>
      writeOrder(tx, userId, { quantity: 2, unitPrice: 1020, total: 1020 }),
    );

    expect(outcome).toMatchObject({ at: 'commit', error: { code: CHECK_VIOLATION } });
  });

  it('an order without its purchase entry, at COMMIT', async () => {
    const userId = await walletWith(5000);

    const outcome = await attempt((tx) => writeOrder(tx, userId, { purchase: false }));

    expect(outcome).toMatchObject({ at: 'commit', error: { code: CHECK_VIOLATION } });
    expect(await ground.db.selectFrom('orders').where('user_id', '=', userId).selectAll().execute()).toEqual(
      [],
    );
  });

  it('an order without its units (at COMMIT), or losing one of them', async () => {
    const userId = await walletWith(5000);

    const none = await attempt((tx) => writeOrder(tx, userId, { units: false }));
    const fewer = await attempt(async (tx) => {
      const { unitIds } = await writeOrder(tx, userId, { quantity: 3, unitPrice: 100 });
      await sql`DELETE FROM order_units WHERE id = ${unitIds[0]!}`.execute(tx);
    });

    expect(none).toMatchObject({ at: 'commit', error: { code: CHECK_VIOLATION } });
    // A unit is never removed, not even before the order commits.
    expect(fewer).toMatchObject({ at: 'statement', error: { code: CHECK_VIOLATION } });
    expect(await balanceOf(ground, userId)).toBe(5000);
  });

  it('an order without lines, at COMMIT', async () => {
    const userId = await walletWith(5000);

    const outcome = await attempt((tx) => writeOrder(tx, userId, { lines: false, total: 0 }));

    expect(outcome).toMatchObject({ at: 'commit', error: { code: CHECK_VIOLATION } });
  });

  it('removing an order that has its purchase entry', async () => {
    const userId = await walletWith(5000);
    const { orderId } = await ground.db.transaction().execute((tx) => writeOrder(tx, userId));

    const outcome = await attempt((tx) => sql`DELETE FROM orders WHERE id = ${orderId}`.execute(tx));

    expect(outcome).toMatchObject({ at: 'statement', error: { code: CHECK_VIOLATION } });
  });
});

// Each of these would break a money invariant of SPEC §2 through a path the shop never takes (plain SQL).
describe('what the database refuses beyond the chain', () => {
  it('a user inserted with a balance and no ledger entry is refused', async () => {
    // users_balance_in_ledger fires AFTER UPDATE OF balance_cents only, not on INSERT.
    const failure = await rolledBack(async (tx) => {
      await sql`INSERT INTO users (email, password_hash, balance_cents)
        VALUES (${`${randomUUID()}@example.com`}, 'x', 5000)`.execute(tx);
      await sql`SET CONSTRAINTS ALL IMMEDIATE`.execute(tx);
    });
    expect(failure).toMatchObject({ code: CHECK_VIOLATION });
  });

  it('TRUNCATE of the ledger is refused (append-only)', async () => {
    // transactions_append_only is a row trigger on UPDATE OR DELETE; TRUNCATE fires no row trigger.
    const failure = await rolledBack((tx) => sql`TRUNCATE transactions`.execute(tx));
    expect(failure).toBeDefined();
  });

  it('a refund entry of more than the unit’s price is refused', async () => {
    const userId = await walletWith(5000);
    const { orderId, unitIds } = await ground.db
      .transaction()
      .execute((tx) => writeOrder(tx, userId, { unitPrice: 100 }));

    const outcome = await attempt(async (tx) => {
      await entry(tx, userId, { type: 'refund', amount: 1_000_000, orderId, unitId: unitIds[0] });
      await changeBalance(tx, userId, 1_000_000);
    });

    expect(outcome.at).not.toBe('committed');
  });

  it('a refund entry of a unit of another user’s order is refused', async () => {
    const alice = await walletWith(5000);
    const bob = await walletWith(0);
    const { orderId, unitIds } = await ground.db
      .transaction()
      .execute((tx) => writeOrder(tx, alice, { unitPrice: 100 }));

    const outcome = await attempt(async (tx) => {
      await entry(tx, bob, { type: 'refund', amount: 100, orderId, unitId: unitIds[0] });
      await changeBalance(tx, bob, 100);
    });

    expect(outcome.at).not.toBe('committed');
  });

  it('a purchase entry paid by another user than the order’s is refused', async () => {
    const alice = await walletWith(0);
    const bob = await walletWith(5000);

    const outcome = await attempt(async (tx) => {
      const { orderId } = await writeOrder(tx, alice, { purchase: false });
      await entry(tx, bob, { type: 'purchase', amount: -1020, orderId });
      await changeBalance(tx, bob, -1020);
    });

    expect(outcome.at).not.toBe('committed');
  });

  it('changing a paid order’s total, line prices or units afterwards is refused', async () => {
    const userId = await walletWith(5000);
    const { orderId, unitIds } = await ground.db
      .transaction()
      .execute((tx) => writeOrder(tx, userId, { quantity: 2, unitPrice: 100 }));

    // orders_paid_for fires AFTER INSERT ON orders only.
    const outcomes = [
      await attempt((tx) => sql`UPDATE orders SET total_cents = 1 WHERE id = ${orderId}`.execute(tx)),
      await attempt((tx) =>
        sql`UPDATE order_lines SET unit_price_cents = 1 WHERE order_id = ${orderId}`.execute(tx),
      ),
      await attempt((tx) => sql`DELETE FROM order_units WHERE id = ${unitIds[0]!}`.execute(tx)),
    ];

    expect(outcomes.map((outcome) => outcome.at)).not.toContain('committed');
  });
});
