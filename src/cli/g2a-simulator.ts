import { pino } from 'pino';
import { createG2ASimulator } from '../adapters/g2a/simulator.js';
import {
  SIMULATOR_DEFAULT_PORT,
  SIMULATOR_DEV_API_HASH,
  SIMULATOR_DEV_API_SECRET,
  SIMULATOR_DEV_EMAIL,
} from '../adapters/g2a/simulator-defaults.js';
import { readCommandLine, usageError } from './command-line.js';

const USAGE = `Usage: npm run g2a:simulator -- [--port 4010] [--host 127.0.0.1] [--products 500] [--seed 1]
                             [--webhook-url URL] [--key-delay-ms 0] [--latency-ms 0] [--error-rate 0]
Credentials: G2A_API_HASH, G2A_API_SECRET, G2A_EMAIL (development defaults when unset).
Rate limit: G2A_RATE_PER_MINUTE (default 600, 0 = none). Webhook signing secret: G2A_WEBHOOK_SECRET.`;

function fail(message: string): never {
  return usageError(USAGE, message);
}

function integerOption(
  name: string,
  raw: string | undefined,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
) {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max)
    fail(`${name} must be an integer from 0 to ${max}`);
  return value;
}

async function main(): Promise<void> {
  const flags = readCommandLine(USAGE, {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    products: { type: 'string' },
    seed: { type: 'string' },
    'webhook-url': { type: 'string' },
    'key-delay-ms': { type: 'string' },
    'latency-ms': { type: 'string' },
    'error-rate': { type: 'string' },
  });

  const port = integerOption('--port', flags.port, SIMULATOR_DEFAULT_PORT, 65_535);
  const products = integerOption('--products', flags.products, 500, 1_000_000);
  const seed = integerOption('--seed', flags.seed, 1, 2 ** 32 - 1);
  const keyDelayMs = integerOption('--key-delay-ms', flags['key-delay-ms'], 0);
  const latencyMs = integerOption('--latency-ms', flags['latency-ms'], 0, 600_000);
  const errorRate = flags['error-rate'] === undefined ? 0 : Number(flags['error-rate']);
  if (!(errorRate >= 0 && errorRate <= 1)) fail('--error-rate must be a number from 0 to 1');
  const ratePerMinute = integerOption('G2A_RATE_PER_MINUTE', process.env.G2A_RATE_PER_MINUTE, 600);

  const webhookUrl = flags['webhook-url'];
  const webhookSecret = process.env.G2A_WEBHOOK_SECRET;
  if (webhookUrl !== undefined) {
    if (!URL.canParse(webhookUrl)) fail(`--webhook-url is not a URL: ${webhookUrl}`);
    if (!webhookSecret) fail('--webhook-url needs G2A_WEBHOOK_SECRET to sign the pushes');
  }

  const logger = pino({ name: 'g2a-simulator' });
  const simulator = createG2ASimulator({
    products,
    seed,
    apiHash: process.env.G2A_API_HASH || SIMULATOR_DEV_API_HASH,
    apiSecret: process.env.G2A_API_SECRET || SIMULATOR_DEV_API_SECRET,
    email: process.env.G2A_EMAIL || SIMULATOR_DEV_EMAIL,
    ratePerMinute,
    // With a secret and no URL yet, the `webhookUrl` fault can point the pushes somewhere later.
    webhook: webhookSecret ? { url: webhookUrl, secret: webhookSecret } : undefined,
    logger,
  });
  simulator.state.setFaults({ keyDelayMs, latencyMs, errorRate });

  const url = await simulator.listen(port, flags.host);
  logger.info(
    { url, products, seed, ratePerMinute, webhook: webhookUrl ?? null },
    `G2A simulator at ${url} (API under ${url}/v1, controls under ${url}/__sim)`,
  );

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'G2A simulator stopping');
    simulator.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'G2A simulator did not close cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

await main();
