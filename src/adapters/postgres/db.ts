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

/** How many statements one connection keeps prepared; statements beyond them are parsed on every run. */
const PREPARED_PER_CONNECTION = 200;

/**
 * A connection that prepares each parameterised statement once (a named statement: parsed the first time,
 * then only bound and run), for the first `PREPARED_PER_CONNECTION` distinct texts it sees. The shop's hot
 * statements are a few dozen texts run thousands of times; parsing and planning them anew each time was
 * a third of the database's work per checkout. The cap keeps the server's memory per connection bounded
 * against texts that vary (an `IN` list of any length).
 */
class PreparingClient extends pg.Client {
  private readonly names = new Map<string, string>();

  // pg.Client.query has a dozen overloads; this one only names the (text, values) form Kysely uses.
  override query(...args: unknown[]): never {
    const [text, values] = args;
    if (typeof text === 'string' && Array.isArray(values) && values.length > 0 && args.length === 2) {
      let name = this.names.get(text);
      if (name === undefined && this.names.size < PREPARED_PER_CONNECTION) {
        name = `keyshop_${this.names.size}`;
        this.names.set(text, name);
      }
      if (name !== undefined) return super.query({ name, text, values }) as never;
    }
    return (super.query as (...rest: unknown[]) => never)(...args);
  }
}

export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    Client: PreparingClient,
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
