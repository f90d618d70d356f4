import { G2A_PAGE_SIZE } from '../src/domain/sync-run.js';
import { adminAuthorization } from './support/admin-authorization.js';
import { createBenchDatabase } from './support/bench-database.js';
import { startBenchSimulator } from './support/bench-simulator.js';
import { describeMachine } from './support/describe-machine.js';
import { parseFlags } from './support/parse-flags.js';
import { printReport, type Goal } from './support/print-report.js';
import { createRedisNamespace } from './support/redis-namespace.js';
import { runBench } from './support/run-bench.js';
import { runSyncToEnd, type SyncRunFigures } from './support/run-sync-to-end.js';
import { serviceUrls } from './support/service-urls.js';
import { startShopProcess } from './support/shop-process.js';

const flags = parseFlags(
  'npm run bench:sync --',
  'Full catalogue sync from the G2A simulator: at the G2A rate limit against its floor, then with the limiter off.',
  {
    products: {
      type: 'number',
      default: 10_000,
      min: 1,
      integer: true,
      description: 'products in the simulator',
    },
    rate: {
      type: 'number',
      default: 600,
      min: 1,
      integer: true,
      description: 'G2A requests per minute, enforced by the simulator and configured in the shop',
    },
    skipStock: { type: 'boolean', description: 'leave out the stock check at the limited rate' },
    skipLimited: { type: 'boolean', description: 'only run the syncs with the limiter off' },
  },
);

// The shop's configuration allows at most this; with it the client-side limiter never waits.
const UNLIMITED_RATE_PER_MINUTE = 1_000_000;
const SPEC_FULL_SYNC_LIMIT_S = 30 * 60;
const SPEC_STOCK_CHECK_LIMIT_S = 5 * 60;
// A run within this factor of the floor is paced by G2A, not by the shop.
const RATE_BOUND_RATIO = 1.1;

interface LimitedRun extends SyncRunFigures {
  floorS: number;
  ratio: number;
  rateLimited: number;
}

await runBench('bench:sync', async ({ defer, log }) => {
  const machine = describeMachine();
  const { databaseUrl, redisUrl } = serviceUrls();
  const pages = Math.ceil(flags.products / G2A_PAGE_SIZE);
  const floorS = (pages / flags.rate) * 60;

  const database = await createBenchDatabase(databaseUrl, 'sync');
  defer('drop the database', () => database.drop());
  const redis = createRedisNamespace(redisUrl, 'sync');
  defer('delete the Redis keys', () => redis.clear());
  log(`starting the G2A simulator with ${flags.products} products (${pages} pages)`);
  const simulator = await startBenchSimulator({ products: flags.products, ratePerMinute: flags.rate });
  defer('close the simulator', () => simulator.close());

  const startShop = async (name: string, ratePerMinute: number) => {
    const shop = await startShopProcess({
      name,
      databaseUrl: database.url,
      redisUrl,
      redisKeyPrefix: redis.prefix,
      env: simulator.shopEnv(ratePerMinute),
    });
    defer(`stop ${name}`, () => shop.stop());
    return { shop, authorization: (await adminAuthorization(shop.url, database.url)).authorization };
  };
  const sync = async (
    shop: { url: string },
    authorization: string,
    kind: 'catalog' | 'stock',
    timeoutMs: number,
  ) => {
    const run = await runSyncToEnd({
      shopUrl: shop.url,
      authorization,
      databaseUrl: database.url,
      kind,
      timeoutMs,
      log,
    });
    if (run.status !== 'finished')
      throw new Error(`${kind} sync ${run.runId} ended ${run.status}: ${run.error}`);
    return run;
  };

  const limited: { catalog?: LimitedRun; stock?: LimitedRun } = {};
  if (!flags.skipLimited) {
    const { shop, authorization } = await startShop('shop (limited)', flags.rate);
    const timeoutMs = floorS * 2_000 + 60_000;
    // The stock check runs in the same shop, so its client keeps pacing against the same G2A window.
    for (const kind of flags.skipStock ? (['catalog'] as const) : (['catalog', 'stock'] as const)) {
      log(`${kind} sync at ${flags.rate} requests/min (floor ${floorS.toFixed(1)} s)`);
      const rateLimitedBefore = simulator.rateLimited();
      const run = await sync(shop, authorization, kind, timeoutMs);
      limited[kind] = {
        ...run,
        floorS,
        ratio: run.wallMs / 1000 / floorS,
        rateLimited: simulator.rateLimited() - rateLimitedBefore,
      };
      log(`${kind} sync finished in ${(run.wallMs / 1000).toFixed(1)} s`);
    }
    await shop.stop();
  }

  log('fresh database; syncing with the limiter off');
  await database.recreate();
  await redis.clear();
  simulator.simulator.state.setFaults({ ratePerMinute: 0 });
  const { shop, authorization } = await startShop('shop (unlimited)', UNLIMITED_RATE_PER_MINUTE);
  const first = await sync(shop, authorization, 'catalog', 10 * 60_000);
  log(`first sync: ${(first.runMs / 1000).toFixed(1)} s; syncing the unchanged catalogue again`);
  const again = await sync(shop, authorization, 'catalog', 10 * 60_000);
  await shop.stop();

  const throughput = (run: SyncRunFigures) => ({
    productsPerSecond: run.upserted / (run.runMs / 1000),
    pagesPerSecond: run.pagesDone / (run.runMs / 1000),
  });
  const unlimited = {
    fresh: { ...first, ...throughput(first) },
    unchanged: { ...again, ...throughput(again) },
  };

  const goals: Goal[] = [];
  if (limited.catalog) {
    const { catalog } = limited;
    goals.push(
      {
        goal: `full sync of ${flags.products} products within ${SPEC_FULL_SYNC_LIMIT_S / 60} min`,
        measured: `${(catalog.wallMs / 1000).toFixed(1)} s`,
        met: catalog.wallMs / 1000 <= SPEC_FULL_SYNC_LIMIT_S,
      },
      {
        goal: `paced by G2A: wall time ≤ ${RATE_BOUND_RATIO} × floor (${floorS.toFixed(1)} s)`,
        measured: `${catalog.ratio.toFixed(3)} × floor`,
        met: catalog.ratio <= RATE_BOUND_RATIO,
      },
      {
        goal: 'no 429 from G2A during the sync',
        measured: `${catalog.rateLimited}`,
        met: catalog.rateLimited === 0,
      },
    );
  }
  if (limited.stock) {
    goals.push(
      {
        goal: `stock check of all products within ${SPEC_STOCK_CHECK_LIMIT_S / 60} min`,
        measured: `${(limited.stock.wallMs / 1000).toFixed(1)} s`,
        met: limited.stock.wallMs / 1000 <= SPEC_STOCK_CHECK_LIMIT_S,
      },
      {
        goal: 'no 429 from G2A during the stock check',
        measured: `${limited.stock.rateLimited}`,
        met: limited.stock.rateLimited === 0,
      },
    );
  }
  goals.push({
    goal: `the shop outpaces G2A: pages/s with the limiter off > ${(flags.rate / 60).toFixed(0)} (the limited rate)`,
    measured: `${unlimited.fresh.pagesPerSecond.toFixed(1)} pages/s`,
    met: unlimited.fresh.pagesPerSecond > flags.rate / 60,
  });

  const limitedRows = (['catalog', 'stock'] as const).flatMap((kind) => {
    const run = limited[kind];
    return run
      ? [
          [
            kind,
            run.pagesDone,
            run.upserted,
            run.changed,
            run.wallMs / 1000,
            run.runMs / 1000,
            run.floorS,
            run.ratio,
            run.rateLimited,
          ],
        ]
      : [];
  });
  printReport(
    {
      title: 'bench:sync',
      machine,
      tables: [
        ...(limitedRows.length > 0
          ? [
              {
                title: `At ${flags.rate} G2A requests/min (the simulator enforces it; floor = pages ÷ rate)`,
                headers: [
                  'run',
                  'pages',
                  'products',
                  'changed',
                  'wall s',
                  'run s',
                  'floor s',
                  'wall/floor',
                  '429s',
                ],
                rows: limitedRows,
                decimals: 2,
                notes: [
                  'wall: trigger sent → run seen finished; run: started_at → finished_at of the sync_runs row',
                ],
              },
            ]
          : []),
        {
          title: 'With the limiter off (fresh database, then the same catalogue again)',
          headers: ['run', 'pages', 'products', 'changed', 'run s', 'products/s', 'pages/s'],
          rows: [
            [
              'catalog, fresh',
              first.pagesDone,
              first.upserted,
              first.changed,
              first.runMs / 1000,
              unlimited.fresh.productsPerSecond,
              unlimited.fresh.pagesPerSecond,
            ],
            [
              'catalog, unchanged',
              again.pagesDone,
              again.upserted,
              again.changed,
              again.runMs / 1000,
              unlimited.unchanged.productsPerSecond,
              unlimited.unchanged.pagesPerSecond,
            ],
          ],
          decimals: 1,
        },
      ],
      goals,
      figures: { products: flags.products, pages, ratePerMinute: flags.rate, floorS, limited, unlimited },
    },
    flags.json,
  );
});
