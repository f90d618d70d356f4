import type autocannon from 'autocannon';
import { adminAuthorization } from './support/admin-authorization.js';
import { createBenchDatabase } from './support/bench-database.js';
import { startBenchSimulator } from './support/bench-simulator.js';
import { describeMachine } from './support/describe-machine.js';
import { freePort } from '../tests/support/free-port.js';
import { parseFlags } from './support/parse-flags.js';
import { printReport, type Goal } from './support/print-report.js';
import { createRedisNamespace } from './support/redis-namespace.js';
import { runBench } from './support/run-bench.js';
import { runLoad, type LoadFigures } from './support/run-load.js';
import { runSyncToEnd } from './support/run-sync-to-end.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import { serviceUrls } from './support/service-urls.js';
import { startShopProcess } from './support/shop-process.js';
import { withPgClient } from './support/with-pg-client.js';

const flags = parseFlags(
  'npm run bench:catalog --',
  'Catalogue reads over HTTP against a bare Fastify route: cached and uncached game, cached catalogue page.',
  {
    connections: {
      type: 'number',
      default: 50,
      min: 1,
      integer: true,
      description: 'autocannon connections',
    },
    duration: { type: 'number', default: 10, min: 1, description: 'seconds measured per scenario' },
    warmup: {
      type: 'number',
      default: 2,
      min: 0,
      description: 'seconds of unmeasured load before each scenario',
    },
    products: {
      type: 'number',
      default: 2_000,
      min: 1,
      integer: true,
      description: 'catalogue size (synced from the simulator)',
    },
  },
);

const CATALOG_PAGE = '/api/v1/games?page=1&pageSize=20&sort=price_asc';
const CACHED_SHARE_OF_BARE_GOAL = 0.6;
const CACHED_P99_GOAL_MS = 5;
const API_P95_GOAL_MS = 200;
const WARMING_CONCURRENCY = 16;

interface Scenario extends LoadFigures {
  name: string;
  ratioToBare: number;
}

await runBench('bench:catalog', async ({ defer, log }) => {
  const machine = describeMachine();
  const { databaseUrl, redisUrl } = serviceUrls();
  const database = await createBenchDatabase(databaseUrl, 'catalog');
  defer('drop the database', () => database.drop());
  const redis = createRedisNamespace(redisUrl, 'catalog');
  defer('delete the Redis keys', () => redis.clear());

  log(`seeding: syncing ${flags.products} products from the simulator`);
  const simulator = await startBenchSimulator({ products: flags.products, ratePerMinute: 0 });
  defer('close the simulator', () => simulator.close());
  const cachedShop = await startShopProcess({
    name: 'shop (Redis)',
    databaseUrl: database.url,
    redisUrl,
    redisKeyPrefix: redis.prefix,
    env: simulator.shopEnv(1_000_000),
  });
  defer('stop the shop (Redis)', () => cachedShop.stop());
  const { authorization } = await adminAuthorization(cachedShop.url, database.url);
  const seeded = await runSyncToEnd({
    shopUrl: cachedShop.url,
    authorization,
    databaseUrl: database.url,
    kind: 'catalog',
    timeoutMs: 5 * 60_000,
    log,
  });
  if (seeded.status !== 'finished') throw new Error(`seeding sync ended ${seeded.status}: ${seeded.error}`);
  await simulator.close();
  const gameIds = await listedGameIds(database.url);
  log(`seeded ${gameIds.length} games`);

  const scenarios: Scenario[] = [];
  const measure = async (name: string, server: ServerProcess, requests: autocannon.Request[]) => {
    const load = { url: server.url, serverPid: server.pid, connections: flags.connections, requests };
    if (flags.warmup > 0) await runLoad({ ...load, durationSeconds: flags.warmup });
    log(`${name}: ${flags.duration} s at ${flags.connections} connections`);
    const figures = await runLoad({ ...load, durationSeconds: flags.duration });
    if (figures.failed > 0)
      log(`${name}: ${figures.failed} failed requests (${JSON.stringify(figures.statusCodes)})`);
    const bare = scenarios[0];
    scenarios.push({
      name,
      ...figures,
      ratioToBare: bare ? figures.requestsPerSecond / bare.requestsPerSecond : 1,
    });
  };
  // Every send asks for the next game, so a run reads thousands of different entries rather than one hot key.
  const eachGame = (pathOf: (id: string) => string): autocannon.Request[] => {
    let next = 0;
    return [
      {
        method: 'GET',
        path: pathOf(gameIds[0]!),
        setupRequest: (request) => ({ ...request, path: pathOf(gameIds[next++ % gameIds.length]!) }),
      },
    ];
  };

  const barePort = await freePort();
  const bare = await startServerProcess({
    name: 'bare Fastify',
    script: 'bench/support/bare-server.ts',
    port: barePort,
    healthPath: '/health',
    env: { PORT: String(barePort) },
  });
  defer('stop the bare server', () => bare.stop());
  await measure(
    'bare Fastify route',
    bare,
    eachGame((id) => `/games/${id}`),
  );
  await bare.stop();

  // The shop's own fixed cost (HTTP, plugins, hooks, serialization) without a cache read: what the cache adds
  // is the difference to the cached game.
  await measure('shop GET /health', cachedShop, [{ method: 'GET', path: '/health' }]);
  log(`warming ${gameIds.length} game entries`);
  await fetchAll(gameIds.map((id) => `${cachedShop.url}/api/v1/games/${id}`));
  const warmEntries = await redis.countKeys('game:*');
  log(`${warmEntries} game entries in Redis`);
  await measure(
    'cached GET /games/{id}',
    cachedShop,
    eachGame((id) => `/api/v1/games/${id}`),
  );
  await fetchAll([`${cachedShop.url}${CATALOG_PAGE}`]);
  await measure('cached catalogue page', cachedShop, [{ method: 'GET', path: CATALOG_PAGE }]);
  await cachedShop.stop();

  const uncachedShop = await startShopProcess({
    name: 'shop (no Redis)',
    databaseUrl: database.url,
    role: 'api',
  });
  defer('stop the shop (no Redis)', () => uncachedShop.stop());
  await measure(
    'uncached GET /games/{id}',
    uncachedShop,
    eachGame((id) => `/api/v1/games/${id}`),
  );
  await uncachedShop.stop();

  const [bareFigures, , cachedGame, cachedPage, uncachedGame] = scenarios as [
    Scenario,
    Scenario,
    Scenario,
    Scenario,
    Scenario,
  ];
  const goals: Goal[] = [
    ...[cachedGame, cachedPage].flatMap((scenario) => [
      {
        goal: `${scenario.name}: ≥ ${CACHED_SHARE_OF_BARE_GOAL} × bare req/s`,
        measured: `${scenario.ratioToBare.toFixed(2)} × bare`,
        met: scenario.ratioToBare >= CACHED_SHARE_OF_BARE_GOAL,
      },
      {
        goal: `${scenario.name}: p99 ≤ ${CACHED_P99_GOAL_MS} ms at ${flags.connections} connections`,
        measured: `${scenario.latencyMs.p99.toFixed(2)} ms`,
        met: scenario.latencyMs.p99 <= CACHED_P99_GOAL_MS,
      },
    ]),
    ...[cachedGame, cachedPage, uncachedGame].map((scenario) => ({
      goal: `${scenario.name}: p95 < ${API_P95_GOAL_MS} ms`,
      measured: `${scenario.latencyMs.p95.toFixed(2)} ms`,
      met: scenario.latencyMs.p95 < API_P95_GOAL_MS,
    })),
  ];

  printReport(
    {
      title: 'bench:catalog',
      machine,
      tables: [
        {
          title: `${flags.connections} connections, ${flags.duration} s per scenario after ${flags.warmup} s of warm-up; ${gameIds.length} games, ${warmEntries} warm game entries`,
          headers: [
            'scenario',
            'req/s',
            'p50 ms',
            'p95 ms',
            'p99 ms',
            'max ms',
            'failed',
            'req/s ÷ bare',
            'p99 ÷ bare',
            'server CPU %',
            'CPU µs/req',
            'autocannon CPU %',
          ],
          rows: scenarios.map((scenario) => [
            scenario.name,
            Math.round(scenario.requestsPerSecond),
            scenario.latencyMs.p50,
            scenario.latencyMs.p95,
            scenario.latencyMs.p99,
            scenario.latencyMs.max,
            scenario.failed,
            scenario.ratioToBare,
            scenario.latencyMs.p99 / bareFigures.latencyMs.p99,
            Math.round(scenario.serverCpuPercent),
            Math.round(scenario.serverCpuUsPerRequest),
            Math.round(scenario.loadGeneratorCpuPercent),
          ]),
          notes: [
            'Each server runs alone in its own process; autocannon runs in this process. Games are requested in turn,',
            'one id per request. "uncached" is a second shop process without REDIS_URL on the same database.',
            'CPU: of the server process (all its threads) and of this process (autocannon), in % of one core;',
            'Redis and PostgreSQL run on the same two cores and are not counted.',
          ],
        },
      ],
      goals,
      figures: {
        connections: flags.connections,
        durationSeconds: flags.duration,
        games: gameIds.length,
        warmEntries,
        scenarios,
      },
    },
    flags.json,
  );
});

async function listedGameIds(databaseUrl: string): Promise<string[]> {
  return withPgClient(databaseUrl, async (client) => {
    const { rows } = await client.query<{ id: string }>(
      'SELECT id FROM games WHERE NOT delisted ORDER BY id',
    );
    return rows.map((row) => row.id);
  });
}

/** GETs every URL (a few at a time) and fails on any non-2xx. */
async function fetchAll(urls: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < urls.length; index = next++) {
      const response = await fetch(urls[index]!);
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`GET ${urls[index]} answered ${response.status}`);
    }
  };
  await Promise.all(Array.from({ length: WARMING_CONCURRENCY }, worker));
}
