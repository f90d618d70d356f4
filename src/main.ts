import { readCommandLine, usageError } from './cli/command-line.js';
import { ConfigError, loadConfig, type Role } from './config.js';
import { createShop } from './compose/create-shop.js';
import { createLogger, prettyLogs } from './logger.js';
import { EmbeddedDatabaseUnusable } from './adapters/postgres/embedded-database.js';

const ROLES: Role[] = ['all', 'api', 'worker'];

const USAGE = `Usage: keyshop [--role all|api|worker]
  all     (default) the HTTP API and the background workers in one process
  api     the HTTP API only; run as many as needed behind a load balancer
  worker  the outbox, G2A fulfilment and the scheduled syncs; run one or more
Configuration comes from the environment (see the README); without DATABASE_URL an embedded PostgreSQL starts.`;

async function main(): Promise<void> {
  const values = readCommandLine(USAGE, { role: { type: 'string', default: 'all' } });
  const role = values.role as Role;
  if (!ROLES.includes(role)) usageError(USAGE, `--role must be one of ${ROLES.join(', ')}`);

  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel, {
    pretty: prettyLogs(config.logFormat, config.production),
  });
  for (const warning of config.warnings) logger.warn(warning);

  // pg-boss settles some job states without awaiting them; a database that drops mid-job must cost a log line,
  // not the process.
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled rejection'));

  // Listened for from the start: a stop asked for while the shop is still starting runs once it has started.
  const started: { shop?: Awaited<ReturnType<typeof createShop>> } = {};
  let stopping: string | undefined;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = signal;
    logger.info({ signal }, 'shutting down');
    if (!started.shop) return;
    await started.shop.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  const shop = await createShop(config, { role, logger });
  started.shop = shop;
  if (stopping) {
    await shop.close();
    logger.info('stopped');
    process.exit(0);
  }
  if (shop.app) {
    const address = await shop.app.listen({ port: config.port, host: config.host });
    logger.info({ role, address }, `Keyshop is up; Swagger UI at ${config.publicUrl}/docs`);
  } else {
    logger.info({ role }, 'Keyshop worker is up');
  }
}

main().catch((error: unknown) => {
  // A start that cannot work here for a reason the operator can fix says so in one line, without a stack.
  console.error(error instanceof EmbeddedDatabaseUnusable ? `keyshop: ${error.message}` : error);
  process.exit(1);
});
