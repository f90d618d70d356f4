import { CompiledQuery, type QueryResult } from 'kysely';
import type PgBoss from 'pg-boss';

/** What pg-boss needs of a Kysely instance or transaction to run its SQL there. */
interface QueryExecutor {
  executeQuery<R>(query: CompiledQuery<R>): Promise<QueryResult<R>>;
}

/** Lets pg-boss insert jobs through a Kysely transaction, so a job exists if and only if the transaction commits. */
export function kyselyExecutor(db: QueryExecutor): PgBoss.Db {
  return {
    executeSql: async (text, values) => {
      const result = await db.executeQuery(CompiledQuery.raw(text, values));
      return { rows: result.rows as Record<string, unknown>[] };
    },
  };
}
