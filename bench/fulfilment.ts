import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_TOP_UP_CENTS } from '../src/domain/ledger.js';
import { adminAuthorization } from './support/admin-authorization.js';
import { createBenchDatabase } from './support/bench-database.js';
import { startBenchSimulator } from './support/bench-simulator.js';
import { describeMachine } from './support/describe-machine.js';
import { auditLedger } from './support/ledger-audit.js';
import { parseFlags } from './support/parse-flags.js';
import { printReport, type Goal } from './support/print-report.js';
import { createRedisNamespace } from './support/redis-namespace.js';
import { runBench } from './support/run-bench.js';
import { runSyncToEnd } from './support/run-sync-to-end.js';
import { serviceUrls } from './support/service-urls.js';
import { startShopProcess } from './support/shop-process.js';
import { withPgClient } from './support/with-pg-client.js';

const flags = parseFlags(
  'npm run bench:fulfilment --',
  'Units bought at G2A and delivered per minute at G2A’s rate, alone and beside a running catalogue sync.',
  {
    rate: { type: 'number', default: 600, min: 1, integer: true, description: 'G2A requests per minute' },
    units: { type: 'number', default: 300, min: 1, integer: true, description: 'units ordered per scenario' },
    unitsPerOrder: { type: 'number', default: 5, min: 1, integer: true, description: 'units in each order' },
    products: {
      type: 'number',
      default: 4_000,
      min: 100,
      integer: true,
      description: 'catalogue size (what the sync beside fulfilment pages through)',
    },
  },
);

/** create, pay, key: what one unit needs of G2A when nothing fails and its key is ready at once. */
const CALLS_PER_UNIT = 3;
const SHARE_OF_FLOOR_GOAL = 0.9;
const POLL_MS = 200;
const JSON_HEADERS = { 'content-type': 'application/json' };

interface Scenario {
  name: string;
  units: number;
  seconds: number;
  unitsPerMinute: number;
  shareOfFloor: number;
  g2aOrders: number;
  paidOrders: number;
  duplicateOrders: number;
  syncPagesDuring: number;
}

await runBench('bench:fulfilment', async ({ defer, log }) => {
  const machine = describeMachine();
  const floorPerMinute = flags.rate / CALLS_PER_UNIT;
  const { databaseUrl, redisUrl } = serviceUrls();
  const database = await createBenchDatabase(databaseUrl, 'fulfilment');
  defer('drop the database', () => database.drop());
  const redis = createRedisNamespace(redisUrl, 'fulfilment');
  defer('delete the Redis keys', () => redis.clear());
  // G2A's own limit, enforced by the simulator as G2A does (429 past it); the shop keeps to the same rate.
  const simulator = await startBenchSimulator({ products: flags.products, ratePerMinute: flags.rate });
  defer('close the simulator', () => simulator.close());
  const shop = await startShopProcess({
    name: 'shop',
    databaseUrl: database.url,
    redisUrl,
    redisKeyPrefix: redis.prefix,
    env: { ...simulator.shopEnv(flags.rate), AUTH_RATE_LIMIT_PER_IP: '1000000' },
  });
  defer('stop the shop', () => shop.stop());
  const admin = await adminAuthorization(shop.url, database.url);

  log(`seeding: a catalogue sync of ${flags.products} products at ${flags.rate} requests/min`);
  await runSyncToEnd({
    shopUrl: shop.url,
    authorization: admin.authorization,
    databaseUrl: database.url,
    kind: 'catalog',
    timeoutMs: 30 * 60_000,
    log,
  });
  const games = await withPgClient(
    database.url,
    async (client) =>
      (
        await client.query<{ id: string; price_cents: number }>(
          `SELECT id, price_cents FROM games WHERE qty >= 10 AND available_to_buy AND NOT delisted
         ORDER BY price_cents LIMIT 50`,
        )
      ).rows,
  );
  if (games.length === 0) throw new Error('no game with enough stock to order');

  const scenarios: Scenario[] = [];
  for (const withSync of [false, true]) {
    const name = withSync ? 'beside a running catalogue sync' : 'alone';
    const shopper = await shopperWithWallet(
      shop.url,
      admin,
      flags.units * Math.max(...games.map((g) => g.price_cents)),
    );
    const ordersBefore = simulator.simulator.state.listOrders().length;
    let sync: Promise<unknown> | undefined;
    let pagesBefore = 0;
    if (withSync) {
      sync = runSyncToEnd({
        shopUrl: shop.url,
        authorization: admin.authorization,
        databaseUrl: database.url,
        kind: 'catalog',
        timeoutMs: 60 * 60_000,
      });
      // Under way before the orders come in.
      await sleep(2_000);
      pagesBefore = await syncPages(database.url);
    }
    log(`${name}: ordering ${flags.units} units`);
    const started = performance.now();
    const orderIds: string[] = [];
    for (let placed = 0; placed < flags.units; placed += flags.unitsPerOrder) {
      const quantity = Math.min(flags.unitsPerOrder, flags.units - placed);
      const game = games[(placed / flags.unitsPerOrder) % games.length]!;
      orderIds.push(
        await placeOrder(shop.url, shopper, [{ gameId: game.id, quantity: Math.min(quantity, 10) }]),
      );
    }
    const delivered = await waitForDelivered(database.url, orderIds, flags.units, log);
    const seconds = (performance.now() - started) / 1000;
    const pagesDuring = withSync ? (await syncPages(database.url)) - pagesBefore : 0;
    const orders = simulator.simulator.state.listOrders().slice(ordersBefore);
    scenarios.push({
      name,
      units: delivered,
      seconds,
      unitsPerMinute: (delivered / seconds) * 60,
      shareOfFloor: ((delivered / seconds) * 60) / floorPerMinute,
      g2aOrders: orders.length,
      paidOrders: orders.filter((order) => order.paid).length,
      duplicateOrders: orders.length - delivered,
      syncPagesDuring: pagesDuring,
    });
    if (sync) {
      log('waiting for the catalogue sync to finish');
      await sync;
    }
  }
  await shop.stop();
  const audit = await auditLedger(database.url);

  const goals: Goal[] = [
    ...scenarios.map((s) => ({
      goal: `≥ ${SHARE_OF_FLOOR_GOAL} of the floor (${s.name})`,
      measured: `${s.unitsPerMinute.toFixed(0)} units/min = ${s.shareOfFloor.toFixed(2)} of ${floorPerMinute.toFixed(0)}`,
      met: s.shareOfFloor >= SHARE_OF_FLOOR_GOAL,
    })),
    {
      goal: '0 duplicate G2A orders',
      measured: scenarios.map((s) => `${s.duplicateOrders} (${s.name})`).join(', '),
      met: scenarios.every((s) => s.duplicateOrders === 0),
    },
    {
      goal: '0 answers 429 from G2A',
      measured: `${simulator.rateLimited()}`,
      met: simulator.rateLimited() === 0,
    },
    {
      goal: 'ledger = balance for every user',
      measured: `${audit.mismatchedUsers} of ${audit.users} users differ`,
      met: audit.mismatchedUsers === 0 && audit.negativeBalances === 0 && audit.ordersWithoutTheirDebit === 0,
    },
  ];
  printReport(
    {
      title: 'bench:fulfilment',
      machine,
      tables: [
        {
          title: `${flags.units} units (${flags.unitsPerOrder} per order) at G2A_RATE_PER_MINUTE=${flags.rate}; floor = ${flags.rate} ÷ ${CALLS_PER_UNIT} calls per unit = ${floorPerMinute.toFixed(0)} units/min`,
          headers: [
            'scenario',
            'units',
            'seconds',
            'units/min',
            'share of floor',
            'G2A orders',
            'paid',
            'duplicates',
            'sync pages meanwhile',
          ],
          rows: scenarios.map((s) => [
            s.name,
            s.units,
            s.seconds,
            s.unitsPerMinute,
            s.shareOfFloor,
            s.g2aOrders,
            s.paidOrders,
            s.duplicateOrders,
            s.syncPagesDuring,
          ]),
          notes: [
            'time runs from the first order placed to the last unit delivered (polled every 200 ms)',
            'the simulator answers 429 past the rate, as G2A does; the shop shares one limiter (a PostgreSQL row) between sync and fulfilment, fulfilment first',
          ],
        },
      ],
      goals,
      figures: { rate: flags.rate, floorPerMinute, scenarios, rateLimited: simulator.rateLimited(), audit },
    },
    flags.json,
  );
});

async function syncPages(databaseUrl: string): Promise<number> {
  return withPgClient(databaseUrl, async (client) =>
    Number(
      (await client.query<{ n: number }>(`SELECT COALESCE(sum(pages_done), 0)::int AS n FROM sync_runs`))
        .rows[0]!.n,
    ),
  );
}

async function waitForDelivered(
  databaseUrl: string,
  orderIds: string[],
  units: number,
  log: (message: string) => void,
): Promise<number> {
  return withPgClient(databaseUrl, async (client) => {
    let lastLog = performance.now();
    for (;;) {
      const { rows } = await client.query<{ delivered: number; open: number }>(
        `SELECT count(*) FILTER (WHERE state = 'delivered')::int AS delivered,
                count(*) FILTER (WHERE state IN ('pending', 'ordered', 'paid'))::int AS open
         FROM order_units WHERE order_id = ANY($1::uuid[])`,
        [orderIds],
      );
      const { delivered, open } = rows[0]!;
      if (open === 0) {
        if (delivered !== units) throw new Error(`${units - delivered} units were not delivered (refunded)`);
        return delivered;
      }
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(`${delivered} of ${units} units delivered`);
      }
      await sleep(POLL_MS);
    }
  });
}

async function post(url: string, body: unknown, headers: Record<string, string>) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`POST ${url} answered ${response.status}: ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

async function shopperWithWallet(shopUrl: string, admin: { authorization: string }, amountCents: number) {
  const signedIn = (await post(
    `${shopUrl}/api/v1/auth/register`,
    {
      email: `bench-${randomBytes(6).toString('hex')}@example.com`,
      password: 'benchmark password',
    },
    {},
  )) as { accessToken: string; user: { id: string } };
  for (let credited = 0; credited < amountCents; credited += MAX_TOP_UP_CENTS) {
    await post(
      `${shopUrl}/api/v1/admin/users/${signedIn.user.id}/top-ups`,
      { amountCents: Math.min(MAX_TOP_UP_CENTS, amountCents - credited), reference: randomUUID() },
      admin,
    );
  }
  return { authorization: `Bearer ${signedIn.accessToken}` };
}

async function placeOrder(
  shopUrl: string,
  shopper: { authorization: string },
  items: { gameId: string; quantity: number }[],
) {
  const order = await post(
    `${shopUrl}/api/v1/orders`,
    { items },
    { ...shopper, 'idempotency-key': randomUUID() },
  );
  return order.id as string;
}
