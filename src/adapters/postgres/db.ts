import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

// int8 (bigint, bigserial, count(*)) as a JS number: money in cents and ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
// A calendar date stays the text 'YYYY-MM-DD': as a JS Date it would shift with the process time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

export type Db = Kysely<Database>;

export interface PoolOptions {
  max?: number;
  applicationName?: string;
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'keyshop',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A runaway query must not hold a connection (and its locks) for ever.
    statement_timeout: 15_000,
    // And a dead network (packets dropped, not refused) must not hang a request either.
    query_timeout: 20_000,
  });
  // A connection lost while idle or while checked out must not crash the process: the pool replaces an idle
  // one, and the query in flight fails with the error (a 5xx, a retried job).
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

export function createDb(urlOrPool: string | pg.Pool, options: PoolOptions = {}): Db {
  const pool = typeof urlOrPool === 'string' ? createPool(urlOrPool, options) : urlOrPool;
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
