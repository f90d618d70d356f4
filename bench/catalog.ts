import { execFileSync } from 'node:child_process';
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
import { benchShopEnv } from './support/bench-shop-env.js';
import { createShop } from '../src/compose/create-shop.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';

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
    build: {
      type: 'boolean',
      description:
        'run the shop from its production build (npm run build, node dist/main.js), not through tsx',
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
const PAGE_SHARE_OF_BARE_GOAL = 0.4;
const HEALTH_SHARE_OF_BARE_GOAL = 0.85;
const UNCACHED_SHARE_OF_BARE_GOAL = 0.1;
const CACHED_P99_GOAL_MS = 5;
const API_P95_GOAL_MS = 200;
const WARMING_CONCURRENCY = 16;

interface Scenario extends LoadFigures {
  name: string;
  ratioToBare: number;
  /** Share of the cache reads answered from the shop process's own memory (NaN where nothing was read). */
  nearHitRate: number;
}

const WRITE_EVERY_MS = 20;

await runBench('bench:catalog', async ({ defer, log }) => {
  const machine = describeMachine();
  const { databaseUrl, redisUrl } = serviceUrls();
  if (flags.build) {
    log('building dist/ (npm run build)');
    execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  }
  const fromBuild = flags.build === true;
  const database = await createBenchDatabase(databaseUrl, 'catalog');
  defer('drop the database', () => database.drop());
  const redis = createRedisNamespace(redisUrl, 'catalog');
  defer('delete the Redis keys', () => redis.clear());

  log(`seeding: syncing ${flags.products} products from the simulator`);
  const simulator = await startBenchSimulator({ products: flags.products, ratePerMinute: 0 });
  defer('close the simulator', () => simulator.close());
  const cachedShop = await startShopProcess({
    fromBuild,
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
  /** Drives every server at once, the connections split between them; figures are summed (p99: the worst). */
  const measure = async (name: string, servers: ServerProcess[], requests: autocannon.Request[]) => {
    const loads = servers.map((server) => ({
      url: server.url,
      serverPid: server.pid,
      connections: Math.max(1, Math.round(flags.connections / servers.length)),
      requests,
    }));
    if (flags.warmup > 0)
      await Promise.all(loads.map((load) => runLoad({ ...load, durationSeconds: flags.warmup })));
    log(`${name}: ${flags.duration} s at ${flags.connections} connections`);
    const readsBefore = await Promise.all(servers.map(cacheReadsOf));
    const each = await Promise.all(
      loads.map((load) => runLoad({ ...load, durationSeconds: flags.duration })),
    );
    const readsAfter = await Promise.all(servers.map(cacheReadsOf));
    const figures = combine(each);
    if (figures.failed > 0)
      log(`${name}: ${figures.failed} failed requests (${JSON.stringify(figures.statusCodes)})`);
    const near = readsAfter.reduce((sum, r, i) => sum + r.near - readsBefore[i]!.near, 0);
    const all = readsAfter.reduce((sum, r, i) => sum + r.all - readsBefore[i]!.all, 0);
    const bare = scenarios[0];
    scenarios.push({
      name,
      ...figures,
      ratioToBare: bare ? figures.requestsPerSecond / bare.requestsPerSecond : 1,
      nearHitRate: all > 0 ? near / all : NaN,
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

  // The floor scenarios serve the shop's own answer texts from the bare server.
  const floorGame = await (await fetch(`${cachedShop.url}/api/v1/games/${gameIds[0]}`)).text();
  const floorPage = await (await fetch(`${cachedShop.url}${CATALOG_PAGE}`)).text();
  const barePort = await freePort();
  const bare = await startServerProcess({
    name: 'bare Fastify',
    script: 'bench/support/bare-server.ts',
    port: barePort,
    healthPath: '/health',
    env: { PORT: String(barePort), FLOOR_GAME_JSON: floorGame, FLOOR_PAGE_JSON: floorPage },
  });
  defer('stop the bare server', () => bare.stop());
  await measure(
    'bare Fastify route',
    [bare],
    eachGame((id) => `/games/${id}`),
  );
  await measure(
    'bare route + the shop’s response headers',
    [bare],
    eachGame((id) => `/with-headers/games/${id}`),
  );
  await measure(
    `floor: a game’s answer (${floorGame.length} B), headers`,
    [bare],
    [{ method: 'GET', path: '/floor/game' }],
  );
  await measure(
    `floor: a page’s answer (${floorPage.length} B), headers`,
    [bare],
    [{ method: 'GET', path: '/floor/page' }],
  );
  await bare.stop();

  // The shop's own fixed cost (HTTP, plugins, hooks, serialization) without a cache read: what the cache adds
  // is the difference to the cached game.
  await measure('shop GET /health', [cachedShop], [{ method: 'GET', path: '/health' }]);
  log(`warming ${gameIds.length} game entries`);
  await fetchAll(gameIds.map((id) => `${cachedShop.url}/api/v1/games/${id}`));
  const warmEntries = await redis.countKeys('game:*');
  log(`${warmEntries} game entries in Redis`);
  await measure(
    'cached GET /games/{id}',
    [cachedShop],
    eachGame((id) => `/api/v1/games/${id}`),
  );
  await fetchAll([`${cachedShop.url}${CATALOG_PAGE}`]);
  await measure('cached catalogue page', [cachedShop], [{ method: 'GET', path: CATALOG_PAGE }]);
  await cachedShop.stop();

  // The same reads with Redis alone (no near cache): what the near cache changes, side by side.
  const redisOnlyShop = await startShopProcess({
    fromBuild,
    name: 'shop (Redis, no near cache)',
    databaseUrl: database.url,
    redisUrl,
    redisKeyPrefix: redis.prefix,
    role: 'api',
    env: { NEAR_CACHE_MAX_ENTRIES: '0' },
  });
  defer('stop the shop (Redis only)', () => redisOnlyShop.stop());
  await measure(
    'cached GET /games/{id}, Redis only',
    [redisOnlyShop],
    eachGame((id) => `/api/v1/games/${id}`),
  );
  await measure(
    'cached catalogue page, Redis only',
    [redisOnlyShop],
    [{ method: 'GET', path: CATALOG_PAGE }],
  );
  await redisOnlyShop.stop();

  // Two API processes on one database and one Redis, while prices change: every change invalidates its game
  // and the catalogue families, and both near caches drop what it names.
  const pair = await Promise.all(
    ['shop A', 'shop B'].map((name) =>
      startShopProcess({
        fromBuild,
        name,
        databaseUrl: database.url,
        redisUrl,
        redisKeyPrefix: redis.prefix,
        role: 'api',
      }),
    ),
  );
  for (const shop of pair) defer(`stop ${shop.name}`, () => shop.stop());
  const writer = await startPriceWriter(database.url, redisUrl, redis.prefix, gameIds);
  defer('stop the price writer', () => writer.stop());
  await measure(
    `two API processes, a price change every ${WRITE_EVERY_MS} ms`,
    pair,
    eachGame((id) => `/api/v1/games/${id}`),
  );
  const changes = await writer.stop();
  await Promise.all(pair.map((shop) => shop.stop()));

  const uncachedShop = await startShopProcess({
    fromBuild,
    name: 'shop (no Redis)',
    databaseUrl: database.url,
    role: 'api',
  });
  defer('stop the shop (no Redis)', () => uncachedShop.stop());
  await measure(
    'uncached GET /games/{id}',
    [uncachedShop],
    eachGame((id) => `/api/v1/games/${id}`),
  );
  await uncachedShop.stop();

  const [
    bareFigures,
    ,
    gameFloor,
    pageFloor,
    health,
    cachedGame,
    cachedPage,
    ,
    ,
    twoProcesses,
    uncachedGame,
  ] = scenarios as [
    Scenario,
    Scenario,
    Scenario,
    Scenario,
    Scenario,
    Scenario,
    Scenario,
    Scenario,
    Scenario,
    Scenario,
    Scenario,
  ];
  const goals: Goal[] = [
    {
      goal: `shop GET /health: ≥ ${HEALTH_SHARE_OF_BARE_GOAL} × bare req/s`,
      measured: `${health.ratioToBare.toFixed(2)} × bare`,
      met: health.ratioToBare >= HEALTH_SHARE_OF_BARE_GOAL,
    },
    {
      goal: `cached GET /games/{id}: ≥ ${CACHED_SHARE_OF_BARE_GOAL} × bare req/s`,
      measured: `${cachedGame.ratioToBare.toFixed(2)} × bare`,
      met: cachedGame.ratioToBare >= CACHED_SHARE_OF_BARE_GOAL,
    },
    {
      goal: `cached catalogue page: ≥ ${PAGE_SHARE_OF_BARE_GOAL} × bare req/s`,
      measured: `${cachedPage.ratioToBare.toFixed(2)} × bare`,
      met: cachedPage.ratioToBare >= PAGE_SHARE_OF_BARE_GOAL,
    },
    {
      goal: `uncached GET /games/{id}: ≥ ${UNCACHED_SHARE_OF_BARE_GOAL} × bare req/s`,
      measured: `${uncachedGame.ratioToBare.toFixed(2)} × bare`,
      met: uncachedGame.ratioToBare >= UNCACHED_SHARE_OF_BARE_GOAL,
    },
    ...[cachedGame, cachedPage].flatMap((scenario) => [
      {
        goal: `${scenario.name}: p99 ≤ ${CACHED_P99_GOAL_MS} ms at ${flags.connections} connections`,
        measured: `${scenario.latencyMs.p99.toFixed(2)} ms`,
        met: scenario.latencyMs.p99 <= CACHED_P99_GOAL_MS,
      },
    ]),
    {
      goal: 'two API processes: near-cache hit rate ≥ 0.9 while prices change',
      measured: `${twoProcesses.nearHitRate.toFixed(3)} (${changes} changes)`,
      met: twoProcesses.nearHitRate >= 0.9,
    },
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
          title: `shop run ${fromBuild ? 'from dist/ (node dist/main.js)' : 'through tsx (npm start)'}; ${flags.connections} connections, ${flags.duration} s per scenario after ${flags.warmup} s of warm-up; ${gameIds.length} games, ${warmEntries} warm game entries`,
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
            'near hit rate',
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
            Number.isNaN(scenario.nearHitRate) ? '–' : scenario.nearHitRate.toFixed(3),
          ]),
          notes: [
            'Each server runs alone in its own process; autocannon runs in this process. Games are requested in turn,',
            'one id per request. "uncached" is a shop process without REDIS_URL on the same database; "Redis only"',
            'one with NEAR_CACHE_MAX_ENTRIES=0. Two API processes share the connections; their figures are summed',
            '(p99: the worse of the two), while a writer in this process commits a price change and its invalidation',
            `(the game, the catalogue and home families) every ${WRITE_EVERY_MS} ms. Near hit rate: cache reads answered`,
            'from the process’s memory, of all its cache reads, from /metrics.',
            `Floors (the shop's exact answer text and headers from the bare server): cached game ${(cachedGame.requestsPerSecond / gameFloor.requestsPerSecond).toFixed(2)} × its floor,`,
            `cached page ${(cachedPage.requestsPerSecond / pageFloor.requestsPerSecond).toFixed(2)} × its floor; the floors are ${gameFloor.ratioToBare.toFixed(2)} and ${pageFloor.ratioToBare.toFixed(2)} × bare.`,
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

/** The process's cache reads so far, from its /metrics: answered from its memory, and in all. */
async function cacheReadsOf(server: ServerProcess): Promise<{ near: number; all: number }> {
  if (server.name === 'bare Fastify') return { near: 0, all: 0 };
  const text = await (await fetch(`${server.url}/metrics`)).text();
  let near = 0;
  let all = 0;
  for (const match of text.matchAll(/^keyshop_cache_reads_total\{layer="(\w+)",outcome="(\w+)"\} (\d+)/gm)) {
    const count = Number(match[3]);
    if (match[1] === 'near' && match[2] === 'miss') continue;
    if (match[1] === 'near') near += count;
    all += count;
  }
  return { near, all };
}

/** One load's figures from several run side by side: rates and CPU summed, latencies the worst. */
function combine(each: LoadFigures[]): LoadFigures {
  if (each.length === 1) return each[0]!;
  const requestsPerSecond = each.reduce((sum, f) => sum + f.requestsPerSecond, 0);
  const serverCpuPercent = each.reduce((sum, f) => sum + f.serverCpuPercent, 0);
  const statusCodes: Record<string, number> = {};
  for (const f of each)
    for (const [code, n] of Object.entries(f.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n;
  const worst = (pick: (f: LoadFigures) => number) => Math.max(...each.map(pick));
  return {
    durationSeconds: each[0]!.durationSeconds,
    requestsPerSecond,
    ok: each.reduce((sum, f) => sum + f.ok, 0),
    failed: each.reduce((sum, f) => sum + f.failed, 0),
    statusCodes,
    latencyMs: {
      ...each[0]!.latencyMs,
      p50: worst((f) => f.latencyMs.p50),
      p95: worst((f) => f.latencyMs.p95),
      p99: worst((f) => f.latencyMs.p99),
      max: worst((f) => f.latencyMs.max),
    },
    serverCpuPercent,
    serverCpuUsPerRequest: ((serverCpuPercent / 100) * 1e6) / requestsPerSecond,
    loadGeneratorCpuPercent: each.reduce((sum, f) => sum + f.loadGeneratorCpuPercent, 0) / each.length,
  };
}

/**
 * A shop in this process that commits a price change every few milliseconds as a stock check would: the
 * price, then its invalidation through the outbox (applied to Redis and published after commit).
 */
async function startPriceWriter(databaseUrl: string, redisUrl: string, prefix: string, gameIds: string[]) {
  const config = loadConfig({
    ...benchShopEnv(),
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
  });
  // Role `all`: it also works the outbox, so its invalidation jobs are done (as a worker process would do them)
  // and the readers' cache trust sees no backlog.
  const shop = await createShop(config, { role: 'all', logger: createLogger('error') });
  let running = true;
  let changes = 0;
  const loop = (async () => {
    for (let n = 0; running; n += 1) {
      const gameId = gameIds[(n * 7919) % gameIds.length]!;
      await shop.db
        .updateTable('games')
        .set((eb) => ({ price_cents: eb('price_cents', '+', 1), updated_at: new Date() }))
        .where('id', '=', gameId)
        .execute();
      await shop.uow.run((scope) =>
        scope.outbox.invalidate({ keys: [`game:${gameId}`], families: ['catalog', 'home'] }),
      );
      changes += 1;
      await new Promise((resolve) => setTimeout(resolve, WRITE_EVERY_MS));
    }
  })();
  let stopped: Promise<number> | undefined;
  return {
    stop: () =>
      (stopped ??= (async () => {
        running = false;
        await loop;
        await shop.close();
        return changes;
      })()),
  };
}

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
