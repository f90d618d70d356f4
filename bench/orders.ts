import { randomBytes, randomUUID } from 'node:crypto';
import type autocannon from 'autocannon';
import { adminAuthorization } from './support/admin-authorization.js';
import { createBenchDatabase } from './support/bench-database.js';
import { describeMachine } from './support/describe-machine.js';
import { auditLedger } from './support/ledger-audit.js';
import { parseFlags } from './support/parse-flags.js';
import { printReport, type Goal } from './support/print-report.js';
import { createRedisNamespace } from './support/redis-namespace.js';
import { runBench } from './support/run-bench.js';
import { runLoad, type LoadFigures } from './support/run-load.js';
import { serviceUrls } from './support/service-urls.js';
import { startShopProcess } from './support/shop-process.js';
import { withPgClient } from './support/with-pg-client.js';
import { MAX_TOP_UP_CENTS } from '../src/domain/ledger.js';

const flags = parseFlags(
  'npm run bench:orders --',
  'Checkouts paid from the wallet over HTTP: one wallet per shopper, then one wallet shared by every connection.',
  {
    shoppers: {
      type: 'number',
      default: 20,
      min: 1,
      integer: true,
      description: 'concurrent shoppers (connections), each with its own wallet',
    },
    duration: { type: 'number', default: 10, min: 1, description: 'seconds measured per scenario' },
    warmup: { type: 'number', default: 2, min: 0, description: 'seconds of unmeasured checkouts first' },
    games: { type: 'number', default: 50, min: 1, integer: true, description: 'games the orders pick from' },
  },
);

const ORDERS_PER_SECOND_GOAL = 300;
const PRICE_CENTS = 1020;
/** Enough for every checkout a scenario can place at several hundred a second: no wallet runs dry. */
const OWN_WALLET_CENTS = MAX_TOP_UP_CENTS;
const SHARED_WALLET_CENTS = 20 * MAX_TOP_UP_CENTS;
const JSON_HEADERS = { 'content-type': 'application/json' };

interface Scenario extends LoadFigures {
  name: string;
  refused: number;
}

await runBench('bench:orders', async ({ defer, log }) => {
  const machine = describeMachine();
  const { databaseUrl, redisUrl } = serviceUrls();
  const database = await createBenchDatabase(databaseUrl, 'orders');
  defer('drop the database', () => database.drop());
  const redis = createRedisNamespace(redisUrl, 'orders');
  defer('delete the Redis keys', () => redis.clear());
  // The API alone: checkouts are measured, not the fulfilment workers that would buy the keys afterwards.
  const shop = await startShopProcess({
    name: 'shop (api)',
    role: 'api',
    databaseUrl: database.url,
    redisUrl,
    redisKeyPrefix: redis.prefix,
    env: { AUTH_RATE_LIMIT_PER_IP: '1000000', LOGIN_RATE_LIMIT: '1000000' },
  });
  defer('stop the shop', () => shop.stop());
  const admin = await adminAuthorization(shop.url, database.url);

  const gameIds = await seedGames(database.url, flags.games);
  log(`signing up ${flags.shoppers + 1} shoppers and topping up their wallets`);
  const hotWallet = await shopperWithWallet(shop.url, admin, SHARED_WALLET_CENTS);
  const ownWallets: string[] = [];
  for (let n = 0; n < flags.shoppers; n++)
    ownWallets.push(await shopperWithWallet(shop.url, admin, OWN_WALLET_CENTS));

  /** A checkout of one random game with a fresh Idempotency-Key, by the connection's shopper. */
  const checkout = (tokenOf: (context: Record<string, unknown>) => string): autocannon.Request => ({
    method: 'POST',
    path: '/api/v1/orders',
    setupRequest: (request, context) => ({
      ...request,
      headers: {
        ...JSON_HEADERS,
        authorization: `Bearer ${tokenOf(context)}`,
        'idempotency-key': randomUUID(),
      },
      body: JSON.stringify({
        items: [{ gameId: gameIds[Math.floor(Math.random() * gameIds.length)], quantity: 1 }],
      }),
    }),
  });
  let nextShopper = 0;
  const ownWallet = checkout((context) => {
    context.token ??= ownWallets[nextShopper++ % ownWallets.length];
    return context.token as string;
  });
  const sharedWallet = checkout(() => hotWallet);

  const scenarios: Scenario[] = [];
  for (const [name, request] of [
    [`${flags.shoppers} shoppers, a wallet each`, ownWallet],
    [`${flags.shoppers} connections, one shared wallet`, sharedWallet],
  ] as const) {
    if (flags.warmup > 0) {
      log(`${name}: ${flags.warmup} s warm-up`);
      await runLoad({
        url: shop.url,
        connections: flags.shoppers,
        durationSeconds: flags.warmup,
        requests: [request],
      });
    }
    log(`${name}: ${flags.duration} s at ${flags.shoppers} connections`);
    const figures = await runLoad({
      url: shop.url,
      serverPid: shop.pid,
      connections: flags.shoppers,
      durationSeconds: flags.duration,
      requests: [request],
    });
    scenarios.push({ name, ...figures, refused: figures.failed });
  }
  await shop.stop();
  const audit = await auditLedger(database.url);

  const best = Math.max(...scenarios.map((s) => s.requestsPerSecond));
  const goals: Goal[] = [
    ...scenarios.map((s) => ({
      goal: `≥ ${ORDERS_PER_SECOND_GOAL} orders/s (${s.name})`,
      measured: `${s.requestsPerSecond.toFixed(0)} orders/s`,
      met: s.requestsPerSecond >= ORDERS_PER_SECOND_GOAL,
    })),
    {
      goal: '0 overdrafts',
      measured: `${audit.negativeBalances} balances below zero`,
      met: audit.negativeBalances === 0,
    },
    {
      goal: 'ledger = balance for every user',
      measured: `${audit.mismatchedUsers} of ${audit.users} users differ`,
      met: audit.mismatchedUsers === 0,
    },
    {
      goal: 'every order has its one debit',
      measured: `${audit.ordersWithoutTheirDebit} of ${audit.orders} orders without`,
      met: audit.ordersWithoutTheirDebit === 0,
    },
  ];
  printReport(
    {
      title: 'bench:orders',
      machine,
      tables: [
        {
          title: `POST /api/v1/orders (one unit, explicit items, a fresh Idempotency-Key each): ${flags.duration} s per scenario`,
          headers: [
            'scenario',
            'orders/s',
            'ok',
            'failed',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'server CPU µs/order',
            'server CPU %',
          ],
          rows: scenarios.map((s) => [
            s.name,
            s.requestsPerSecond,
            s.ok,
            s.failed,
            s.latencyMs.p50,
            s.latencyMs.p95,
            s.latencyMs.p99,
            Math.round(s.serverCpuUsPerRequest),
            Math.round(s.serverCpuPercent),
          ]),
          notes: [
            'the shop runs as `--role api`: no worker buys the keys while checkouts are measured (the g2a.fulfil messages wait)',
            `shared wallet: ${(scenarios[1]!.requestsPerSecond / scenarios[0]!.requestsPerSecond).toFixed(2)}× the throughput of a wallet each (every checkout of one wallet holds its row lock)`,
            `after the run: ${audit.orders} orders, ${audit.users} users audited against the ledger`,
          ],
        },
      ],
      goals,
      figures: {
        shoppers: flags.shoppers,
        durationSeconds: flags.duration,
        scenarios,
        audit,
        bestOrdersPerSecond: best,
      },
    },
    flags.json,
  );
});

async function seedGames(databaseUrl: string, count: number): Promise<string[]> {
  return withPgClient(databaseUrl, async (client) => {
    const rows = await client.query<{ id: string }>(
      `INSERT INTO games (g2a_product_id, slug, name, cost_cents, price_cents, qty, available_to_buy)
       SELECT 'bench-' || n, 'bench-game-' || n, 'Bench Game ' || n, 1000, $1, 1000000000, true
       FROM generate_series(1, $2::int) AS n RETURNING id`,
      [PRICE_CENTS, count],
    );
    return rows.rows.map((row) => row.id);
  });
}

/** A shopper signed up over HTTP, credited by the administrator (top-ups of at most 10,000 EUR); answers its token. */
async function shopperWithWallet(
  shopUrl: string,
  admin: { authorization: string },
  amountCents: number,
): Promise<string> {
  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const response = await fetch(`${shopUrl}/api/v1${path}`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, ...headers },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`POST ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text) as { accessToken: string; user: { id: string } };
  };
  const signedIn = await post('/auth/register', {
    email: `bench-${randomBytes(6).toString('hex')}@example.com`,
    password: 'benchmark password',
  });
  for (let credited = 0; credited < amountCents; credited += MAX_TOP_UP_CENTS) {
    const amount = Math.min(MAX_TOP_UP_CENTS, amountCents - credited);
    await post(
      `/admin/users/${signedIn.user.id}/top-ups`,
      { amountCents: amount, reference: randomUUID() },
      admin,
    );
  }
  return signedIn.accessToken;
}
