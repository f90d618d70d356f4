import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, createPool, type Db } from '../../src/adapters/postgres/db.js';
import { createTestDatabase } from '../support/services.js';

describe('the pool prepares statements', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let db: Db;

  beforeAll(async () => {
    database = await createTestDatabase();
    // One connection: what one statement prepared, the next one sees.
    db = createDb(createPool(database.url, { max: 1 }));
  });
  afterAll(async () => {
    await db.destroy();
    await database.drop();
  });

  const prepared = async () =>
    (
      await sql<{ name: string; statement: string }>`
        SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'keyshop%' ORDER BY name`.execute(
        db,
      )
    ).rows;

  it('prepares a parameterised text once and answers each run with its own values', async () => {
    const before = (await prepared()).length;
    for (const n of [1, 2, 3]) {
      const row = await sql<{ n: number }>`SELECT ${n}::int + 1000 AS n`.execute(db);
      expect(row.rows[0]!.n).toBe(1000 + n);
    }
    const after = await prepared();
    expect(after).toHaveLength(before + 1);
    expect(after.some((s) => s.statement.includes('+ 1000 AS n'))).toBe(true);
  });

  it('runs a text without parameters as it is, preparing nothing', async () => {
    const before = (await prepared()).length;
    await sql`SELECT 1`.execute(db);
    expect(await prepared()).toHaveLength(before);
  });

  it('prepares a text again after it failed to parse, and runs a corrected one', async () => {
    await expect(sql`SELEC ${1}::int`.execute(db)).rejects.toThrow(/syntax error/);
    await expect(sql`SELEC ${2}::int`.execute(db)).rejects.toThrow(/syntax error/);
    const row = await sql<{ n: number }>`SELECT ${7}::int AS n`.execute(db);
    expect(row.rows[0]!.n).toBe(7);
  });

  it('keeps at most 200 statements per connection; texts beyond them still run', async () => {
    const own = createDb(createPool(database.url, { max: 1 }));
    try {
      for (let n = 0; n < 260; n++) {
        const row = await sql<{ n: number }>`SELECT ${n}::int + ${sql.lit(n)} AS n`.execute(own);
        expect(row.rows[0]!.n).toBe(2 * n);
      }
      const count = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'keyshop%'`.execute(own);
      expect(count.rows[0]!.n).toBe(200);
    } finally {
      await own.destroy();
    }
  });
});
