import { CompiledQuery, type Kysely } from 'kysely';
import type PgBoss from 'pg-boss';

/** Lets pg-boss insert jobs through a Kysely transaction, so a job exists if and only if the transaction commits. */
export function kyselyExecutor<DB>(db: Kysely<DB>): PgBoss.Db {
  return {
    executeSql: async (text, values) => {
      const result = await db.executeQuery(CompiledQuery.raw(text, values));
      return { rows: result.rows as Record<string, unknown>[] };
    },
  };
}
