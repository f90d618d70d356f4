import { withPgClient } from './with-pg-client.js';

export interface BenchDatabase {
  name: string;
  url: string;
  /** Drops and creates it again, empty (the shop migrates it when it starts). */
  recreate(): Promise<void>;
  drop(): Promise<void>;
}

/** `keyshop_bench_<name>` on the server of `serverUrl`, dropped and created empty. */
export async function createBenchDatabase(serverUrl: string, name: string): Promise<BenchDatabase> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad benchmark database name "${name}"`);
  const database = `keyshop_bench_${name}`;
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;

  const onServer = (statements: string[]) =>
    withPgClient(serverUrl, async (client) => {
      for (const statement of statements) await client.query(statement);
    });
  const drop = () => onServer([`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`]);
  const recreate = () =>
    onServer([`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`, `CREATE DATABASE ${database}`]);

  await recreate();
  return { name: database, url: url.toString(), recreate, drop };
}
