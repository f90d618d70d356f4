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
    flood: {
      type: 'number',
      default: 50,
      min: 1,
      integer: true,
      description: 'concurrent failed sign-ins from one address',
    },
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
const ATTACKER = '203.0.113.9';
const SHOPPER = '198.51.100.1';

/** One sign-in over HTTP from `from` (the shop trusts X-Forwarded-For here): its status and wall time. */
async function timedLogin(url: string, email: string, password: string, from: string) {
  const started = performance.now();
  const response = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, 'x-forwarded-for': from },
    body: JSON.stringify({ email, password }),
  });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

async function registerOver(url: string, email: string, from: string): Promise<void> {
  const response = await fetch(`${url}/api/v1/auth/register`, {
    method: 'POST',
    headers: { ...JSON_HEADERS, 'x-forwarded-for': from },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (response.status !== 201) throw new Error(`sign-up answered ${response.status}`);
}

interface Flood {
  limit: string;
  aloneMs: number;
  duringFloodMs: number;
  unauthorized: number;
  limited: number;
}

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

  // A shopper's sign-in alone and during a flood of failed sign-ins from another address, with
  // AUTH_RATE_LIMIT_PER_IP at its default and off, side by side.
  const floods: Flood[] = [];
  for (const limit of ['30', '1000000']) {
    const floodShop = await startShopProcess({
      name: `shop (AUTH_RATE_LIMIT_PER_IP=${limit})`,
      databaseUrl: database.url,
      redisUrl,
      redisKeyPrefix: `${redis.prefix}flood-${limit}:`,
      env: {
        BCRYPT_COST: String(flags.cost),
        LOGIN_RATE_LIMIT: '1000000',
        AUTH_RATE_LIMIT_PER_IP: limit,
        TRUST_PROXY: 'true',
      },
    });
    try {
      const shopper = `shopper-${runTag}-${limit}@example.com`;
      await registerOver(floodShop.url, shopper, SHOPPER);
      const alone: number[] = [];
      for (let n = 0; n < 5; n++)
        alone.push((await timedLogin(floodShop.url, shopper, PASSWORD, SHOPPER)).ms);
      log(
        `failed sign-ins from one address at ${flags.flood} concurrent for ${flags.duration} s, AUTH_RATE_LIMIT_PER_IP=${limit}`,
      );
      const statuses: number[] = [];
      const until = performance.now() + flags.duration * 1000;
      let attempt = 0;
      const attacker = async () => {
        while (performance.now() < until)
          statuses.push(
            (await timedLogin(floodShop.url, `nobody-${runTag}-${attempt++}@example.com`, 'wrong', ATTACKER))
              .status,
          );
      };
      const attackers = Array.from({ length: flags.flood }, attacker);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const during: number[] = [];
      while (performance.now() < until)
        during.push((await timedLogin(floodShop.url, shopper, PASSWORD, SHOPPER)).ms);
      await Promise.all(attackers);
      floods.push({
        limit,
        aloneMs: summarize(alone).p50,
        duringFloodMs: summarize(during).p50,
        unauthorized: statuses.filter((status) => status === 401).length,
        limited: statuses.filter((status) => status === 429).length,
      });
    } finally {
      await floodShop.stop();
    }
  }

  // Equal time for an unknown e-mail and a wrong password after BCRYPT_COST was raised: accounts hashed at a
  // lower cost, then the shop restarted at the configured one.
  const lowerCost = Math.max(4, flags.cost - 2);
  // A database of its own: every stored hash is at the lower cost, as on the day the operator raises it.
  const costDatabase = await createBenchDatabase(databaseUrl, 'auth_cost');
  defer('drop the cost database', () => costDatabase.drop());
  const before = await startShopProcess({
    name: `shop (BCRYPT_COST=${lowerCost})`,
    databaseUrl: costDatabase.url,
    redisUrl,
    redisKeyPrefix: `${redis.prefix}cost:`,
    env: { BCRYPT_COST: String(lowerCost), TRUST_PROXY: 'true' },
  });
  const costEmails = Array.from({ length: 5 }, (_, n) => `cost-${runTag}-${n}@example.com`);
  try {
    for (const email of costEmails) await registerOver(before.url, email, SHOPPER);
  } finally {
    await before.stop();
  }
  const after = await startShopProcess({
    name: `shop (BCRYPT_COST=${flags.cost})`,
    databaseUrl: costDatabase.url,
    redisUrl,
    redisKeyPrefix: `${redis.prefix}cost:`,
    env: { BCRYPT_COST: String(flags.cost), LOGIN_RATE_LIMIT: '1000000', TRUST_PROXY: 'true' },
  });
  const wrongPassword: number[] = [];
  const unknownEmail: number[] = [];
  try {
    log(`wrong password and unknown e-mail after raising BCRYPT_COST from ${lowerCost} to ${flags.cost}`);
    for (let n = 0; n < 10; n++) {
      wrongPassword.push((await timedLogin(after.url, costEmails[n % 5]!, 'wrong password', SHOPPER)).ms);
      unknownEmail.push(
        (await timedLogin(after.url, `nobody-${runTag}-${n}@example.com`, 'wrong password', SHOPPER)).ms,
      );
    }
  } finally {
    await after.stop();
  }

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
        {
          title: `a shopper's sign-ins while ${flags.flood} concurrent failed sign-ins keep coming from one other address for ${flags.duration} s`,
          headers: [
            'AUTH_RATE_LIMIT_PER_IP',
            'sign-in alone ms (p50 of 5)',
            'sign-in during the flood ms (p50)',
            'flood 401',
            'flood 429',
          ],
          rows: floods.map((f) => [
            f.limit === '30' ? '30 (default)' : 'off (1,000,000)',
            f.aloneMs,
            f.duringFloodMs,
            f.unauthorized,
            f.limited,
          ]),
          notes: [
            'the flood and the shopper come from different addresses (X-Forwarded-For, TRUST_PROXY=true)',
          ],
        },
        {
          title: `failed sign-ins after BCRYPT_COST went from ${lowerCost} to ${flags.cost} (10 each, one after another)`,
          headers: ['case', 'p50 ms', 'max ms'],
          rows: [
            [
              'wrong password (stored hash at the old cost)',
              summarize(wrongPassword).p50,
              summarize(wrongPassword).max,
            ],
            ['unknown e-mail (dummy check)', summarize(unknownEmail).p50, summarize(unknownEmail).max],
          ],
          notes: [
            'the dummy check runs at the cost most stored hashes have; a successful sign-in rehashes at the new cost',
          ],
        },
      ],
      goals: [
        {
          goal: `a flood from one address: at most 30 failed sign-ins a minute do bcrypt work, the rest 429`,
          measured: `${floods[0]!.unauthorized} answered 401, ${floods[0]!.limited} answered 429`,
          met: floods[0]!.unauthorized <= 30 * Math.ceil(flags.duration / 60) && floods[0]!.limited > 0,
        },
        {
          goal: "a shopper's sign-in during the flood within 2x of alone (limit on)",
          measured: `${floods[0]!.duringFloodMs.toFixed(0)} ms vs ${floods[0]!.aloneMs.toFixed(0)} ms alone`,
          met: floods[0]!.duringFloodMs <= 2 * floods[0]!.aloneMs,
        },
        {
          goal: 'unknown e-mail costs what a wrong password costs after a cost change (within 25 %)',
          measured: `${summarize(unknownEmail).p50.toFixed(0)} ms vs ${summarize(wrongPassword).p50.toFixed(0)} ms`,
          met: Math.abs(summarize(unknownEmail).p50 / summarize(wrongPassword).p50 - 1) <= 0.25,
        },
      ],
      figures: {
        cost: flags.cost,
        connections: flags.connections,
        durationSeconds: flags.duration,
        hashMs,
        ceilingPerSecond: ceiling,
        signUps,
        logins,
        users: users.length,
        floods,
        afterCostChange: {
          lowerCost,
          wrongPassword: summarize(wrongPassword),
          unknownEmail: summarize(unknownEmail),
        },
      },
    },
    flags.json,
  );
});
