import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type autocannon from 'autocannon';
import { BcryptPasswordHasher } from '../src/adapters/security/bcrypt-password-hasher.js';
import { createBenchDatabase } from './support/bench-database.js';
import { describeMachine } from './support/describe-machine.js';
import { parseFlags } from './support/parse-flags.js';
import { printReport } from './support/print-report.js';
import { createRedisNamespace } from './support/redis-namespace.js';
import { runBench } from './support/run-bench.js';
import { runLoad, type LoadFigures } from './support/run-load.js';
import { serviceUrls } from './support/service-urls.js';
import { startShopProcess } from './support/shop-process.js';
import { summarize } from './support/summarize.js';

const configuredCost = Number(process.env.BCRYPT_COST || 12);
const flags = parseFlags(
  'npm run bench:auth --',
  'Sign-ups/s and logins/s over HTTP at the configured bcrypt cost (BCRYPT_COST, default 12).',
  {
    cost: { type: 'number', default: configuredCost, min: 4, integer: true, description: 'bcrypt cost' },
    connections: { type: 'number', default: 8, min: 1, integer: true, description: 'autocannon connections' },
    duration: { type: 'number', default: 15, min: 1, description: 'seconds of sign-ups, then of logins' },
    hashSamples: {
      type: 'number',
      default: 5,
      min: 1,
      integer: true,
      description: 'bcrypt hashes timed alone in this process, for the per-core ceiling',
    },
  },
);

const PASSWORD = 'benchmark password 1';
const JSON_HEADERS = { 'content-type': 'application/json' };

await runBench('bench:auth', async ({ defer, log }) => {
  const machine = describeMachine();
  const cores = os.availableParallelism();
  log(`timing ${flags.hashSamples} bcrypt hashes at cost ${flags.cost} in this process`);
  const hasher = new BcryptPasswordHasher(flags.cost);
  const hashTimes: number[] = [];
  for (let sample = 0; sample < flags.hashSamples; sample++) {
    const started = performance.now();
    await hasher.hash(PASSWORD);
    hashTimes.push(performance.now() - started);
  }
  const hashMs = summarize(hashTimes).p50;

  const { databaseUrl, redisUrl } = serviceUrls();
  const database = await createBenchDatabase(databaseUrl, 'auth');
  defer('drop the database', () => database.drop());
  const redis = createRedisNamespace(redisUrl, 'auth');
  defer('delete the Redis keys', () => redis.clear());
  const shop = await startShopProcess({
    name: 'shop',
    databaseUrl: database.url,
    redisUrl,
    redisKeyPrefix: redis.prefix,
    // The login limit is per IP and e-mail; every request here comes from one IP.
    env: { BCRYPT_COST: String(flags.cost), LOGIN_RATE_LIMIT: '1000000' },
  });
  defer('stop the shop', () => shop.stop());

  const runTag = randomBytes(4).toString('hex');
  let signUpCount = 0;
  const users: string[] = [];
  const signUp: autocannon.Request = {
    method: 'POST',
    path: '/api/v1/auth/register',
    headers: JSON_HEADERS,
    setupRequest: (request) => ({
      ...request,
      body: JSON.stringify({ email: `bench-${runTag}-${signUpCount++}@example.com`, password: PASSWORD }),
    }),
    onResponse: (status, body) => {
      if (status === 201) users.push((JSON.parse(body) as { user: { email: string } }).user.email);
    },
  };
  const load = {
    url: shop.url,
    serverPid: shop.pid,
    connections: flags.connections,
    durationSeconds: flags.duration,
    timeoutSeconds: 120,
  };
  log(`sign-ups: ${flags.duration} s at ${flags.connections} connections`);
  const signUps = await runLoad({ ...load, requests: [signUp] });
  if (users.length === 0) throw new Error(`no sign-up succeeded: ${JSON.stringify(signUps.statusCodes)}`);

  let loginCount = 0;
  const login: autocannon.Request = {
    method: 'POST',
    path: '/api/v1/auth/login',
    headers: JSON_HEADERS,
    setupRequest: (request) => ({
      ...request,
      body: JSON.stringify({ email: users[loginCount++ % users.length], password: PASSWORD }),
    }),
  };
  log(`logins over ${users.length} users: ${flags.duration} s at ${flags.connections} connections`);
  const logins = await runLoad({ ...load, requests: [login] });
  await shop.stop();

  const ceiling = (cores * 1000) / hashMs;
  const row = (name: string, figures: LoadFigures) => [
    name,
    figures.requestsPerSecond,
    figures.ok,
    figures.failed,
    figures.latencyMs.p50,
    figures.latencyMs.p95,
    figures.latencyMs.p99,
    figures.requestsPerSecond / ceiling,
    Math.round(figures.serverCpuPercent),
  ];
  printReport(
    {
      title: 'bench:auth',
      machine,
      tables: [
        {
          title: `bcrypt cost ${flags.cost}: ${flags.connections} connections, ${flags.duration} s each`,
          headers: [
            'operation',
            'req/s',
            'ok',
            'failed',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'share of ceiling',
            'server CPU %',
          ],
          rows: [row('sign-up (POST /auth/register)', signUps), row('login (POST /auth/login)', logins)],
          notes: [
            `one bcrypt hash alone: ${hashMs.toFixed(1)} ms (median of ${flags.hashSamples}); ceiling = ${cores} cores ÷ hash = ${ceiling.toFixed(1)}/s`,
            `logins spread over the ${users.length} accounts the sign-ups created; LOGIN_RATE_LIMIT raised to 1,000,000`,
            'server CPU: the shop process with its bcrypt threads, in % of one core (200% = both cores)',
          ],
        },
      ],
      goals: [],
      figures: {
        cost: flags.cost,
        connections: flags.connections,
        durationSeconds: flags.duration,
        hashMs,
        ceilingPerSecond: ceiling,
        signUps,
        logins,
        users: users.length,
      },
    },
    flags.json,
  );
});
