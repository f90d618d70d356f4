import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createDb, createPool } from '../src/adapters/postgres/db.js';
import { createShop } from '../src/compose/create-shop.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { insertGame, updateGame } from '../tests/support/games.js';
import { freePort } from '../tests/support/free-port.js';
import { RedisProcess } from '../tests/support/redis-process.js';
import { createBenchDatabase } from './support/bench-database.js';
import { benchShopEnv } from './support/bench-shop-env.js';
import { describeMachine } from './support/describe-machine.js';
import { parseFlags } from './support/parse-flags.js';
import { printReport, type Goal, type ReportTable } from './support/print-report.js';
import { runBench } from './support/run-bench.js';
import { serviceUrls } from './support/service-urls.js';
import { startShopProcess } from './support/shop-process.js';
import { summarize } from './support/summarize.js';

const flags = parseFlags(
  'npm run bench:faults --',
  'Cached reads and price changes while Redis freezes, and while one process is cut off from Redis.',
  {
    connections: { type: 'number', default: 20, min: 1, integer: true, description: 'concurrent readers' },
    games: { type: 'number', default: 20, min: 1, integer: true, description: 'games read and repriced' },
    before: { type: 'number', default: 3, min: 1, description: 'seconds of load before the fault' },
    fault: { type: 'number', default: 4, min: 1, description: 'seconds the fault lasts' },
    after: { type: 'number', default: 5, min: 1, description: 'seconds of load after the fault' },
    writeEvery: {
      type: 'number',
      default: 100,
      min: 10,
      integer: true,
      description: 'ms between price changes',
    },
  },
);

interface Read {
  gameId: string;
  startedAt: number;
  endedAt: number;
  status: number;
  priceCents: number | undefined;
}

interface Commit {
  gameId: string;
  priceCents: number;
  /** When the writer's unit of work returned: from here on no read may answer an older price. */
  committedAt: number;
  /** When the Redis entry no longer held an older price (gone, or refilled with this one or a later one). */
  goneAt?: number;
}

await runBench('bench:faults', async ({ defer, log }) => {
  const machine = describeMachine();
  const { databaseUrl } = serviceUrls();
  const database = await createBenchDatabase(databaseUrl, 'faults');
  defer('drop the database', () => database.drop());
  const redis = await RedisProcess.onFreePort();
  await redis.start();
  defer('stop the throwaway redis-server', () => redis.stop());
  const prefix = 'keyshop-bench-faults:';
  const unreachable = `redis://127.0.0.1:${await freePort()}`;

  const pool = createPool(database.url, { max: 4 });
  const db = createDb(pool);
  defer('close the pool', () => db.destroy());

  /** A shop in this process that commits price changes as a stock check would: the price, then its invalidation. */
  const writerOn = async (redisUrl: string) => {
    const config = loadConfig({
      ...benchShopEnv(),
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
    });
    const shop = await createShop(config, { role: 'api', logger: createLogger('error') });
    defer('close the writer', () => shop.close());
    return shop;
  };

  const scenario = async (name: string, options: { cutOff: boolean }) => {
    log(`${name}: starting`);
    const healthy = await startShopProcess({
      name: 'shop',
      databaseUrl: database.url,
      redisUrl: redis.url,
      redisKeyPrefix: prefix,
    });
    defer('stop the shop', () => healthy.stop());
    const cutOff = options.cutOff
      ? await startShopProcess({ name: 'cut-off shop', databaseUrl: database.url, redisUrl: unreachable })
      : undefined;
    if (cutOff) defer('stop the cut-off shop', () => cutOff.stop());
    const writer = await writerOn(options.cutOff ? unreachable : redis.url);
    const probe = new Redis(redis.url, { keyPrefix: prefix, maxRetriesPerRequest: 0, commandTimeout: 1000 });
    probe.on('error', () => undefined);
    defer('disconnect the probe', () => probe.disconnect());

    const gameIds: string[] = [];
    for (let n = 0; n < flags.games; n++) gameIds.push(await insertGame(db, { priceCents: 1000, qty: 50 }));
    const prices = new Map(gameIds.map((id) => [id, 1000]));
    const commits: Commit[] = [];
    const reads: Read[] = [];
    const start = performance.now();
    const faultFrom = start + flags.before * 1000;
    const faultUntil = faultFrom + flags.fault * 1000;
    const end = faultUntil + flags.after * 1000;

    const reader = async (lane: number) => {
      for (let n = lane; performance.now() < end; n++) {
        const gameId = gameIds[n % gameIds.length]!;
        const startedAt = performance.now();
        try {
          const response = await fetch(`${healthy.url}/api/v1/games/${gameId}`);
          const body = (await response.json()) as { priceCents?: number };
          reads.push({
            gameId,
            startedAt,
            endedAt: performance.now(),
            status: response.status,
            priceCents: body.priceCents,
          });
        } catch {
          reads.push({ gameId, startedAt, endedAt: performance.now(), status: 0, priceCents: undefined });
        }
      }
    };
    const writerLoop = async () => {
      for (let n = 0; performance.now() < end - 1000; n++) {
        const gameId = gameIds[n % gameIds.length]!;
        const priceCents = prices.get(gameId)! + 1;
        await updateGame(db, gameId, { priceCents });
        await writer.uow.run((scope) => scope.outbox.invalidate({ keys: [`game:${gameId}`] }));
        prices.set(gameId, priceCents);
        commits.push({ gameId, priceCents, committedAt: performance.now() });
        await sleep(flags.writeEvery);
      }
    };
    const watcher = async () => {
      while (performance.now() < end + 10_000) {
        const open = commits.filter((c) => c.goneAt === undefined);
        if (open.length === 0 && performance.now() > end) break;
        for (const commit of open) {
          try {
            const entry = await probe.hget(`game:${commit.gameId}`, 'd');
            const cached = entry ? (JSON.parse(entry) as { priceCents: number }).priceCents : undefined;
            if (cached === undefined || cached >= commit.priceCents) commit.goneAt = performance.now();
          } catch {
            // Frozen: try again.
          }
        }
        await sleep(5);
      }
    };
    const fault = async () => {
      if (options.cutOff) return;
      await sleep(faultFrom - performance.now());
      redis.freeze();
      await sleep(faultUntil - performance.now());
      redis.thaw();
    };
    await Promise.all([
      ...Array.from({ length: flags.connections }, (_, lane) => reader(lane)),
      writerLoop(),
      watcher(),
      fault(),
    ]);
    await healthy.stop();
    await cutOff?.stop();
    await writer.close();
    probe.disconnect();

    // A read is stale when it started after a newer price of its game had been committed.
    const staleOf = (read: Read) =>
      read.priceCents !== undefined &&
      commits.some(
        (c) => c.gameId === read.gameId && c.committedAt < read.startedAt && c.priceCents > read.priceCents!,
      );
    const phases: [string, number, number][] = options.cutOff
      ? [['whole run (one process cut off throughout)', start, end]]
      : [
          ['before the freeze', start, faultFrom],
          ['first second of the freeze', faultFrom, faultFrom + 1000],
          ['rest of the freeze', faultFrom + 1000, faultUntil],
          ['after Redis thaws', faultUntil, end],
        ];
    const rows = phases.map(([phase, from, until]) => {
      const inPhase = reads.filter((r) => r.startedAt >= from && r.startedAt < until);
      const latency = summarize(inPhase.map((r) => r.endedAt - r.startedAt));
      return {
        phase,
        reads: inPhase.length,
        failed: inPhase.filter((r) => r.status !== 200).length,
        p50: latency.p50,
        p99: latency.p99,
        stale: inPhase.filter(staleOf).length,
      };
    });
    const delays = commits.filter((c) => c.goneAt !== undefined).map((c) => c.goneAt! - c.committedAt);
    const afterFault = options.cutOff ? commits : commits.filter((c) => c.committedAt >= faultUntil);
    return {
      name,
      rows,
      commits: commits.length,
      neverGone: commits.length - delays.length,
      commitToGone: summarize(afterFault.filter((c) => c.goneAt).map((c) => c.goneAt! - c.committedAt)),
      allCommitToGone: summarize(delays),
      staleAfter: options.cutOff ? rows[0]!.stale : rows.at(-1)!.stale,
    };
  };

  const freeze = await scenario('Redis frozen (SIGSTOP)', { cutOff: false });
  const cut = await scenario('one process cut off from Redis', { cutOff: true });

  const table = (result: typeof freeze, title: string): ReportTable => ({
    title,
    headers: ['phase', 'reads', 'failed', 'p50 ms', 'p99 ms', 'stale reads'],
    rows: result.rows.map((r) => [r.phase, r.reads, r.failed, r.p50, r.p99, r.stale]),
    notes: [
      `${result.commits} price changes committed; commit → entry gone (p50/p95/max ms): all ${result.allCommitToGone.p50.toFixed(1)} / ${result.allCommitToGone.p95.toFixed(1)} / ${result.allCommitToGone.max.toFixed(1)}`,
      `${result.neverGone} changes whose stale entry was never seen to go`,
    ],
  });
  const duringFreeze = freeze.rows[2]!;
  const goals: Goal[] = [
    {
      goal: 'no request fails through a Redis fault',
      measured: `${[...freeze.rows, ...cut.rows].reduce((sum, r) => sum + r.failed, 0)} failed`,
      met: [...freeze.rows, ...cut.rows].every((r) => r.failed === 0),
    },
    {
      goal: 'p99 of cached reads ≤ 100 ms after the first second of a freeze',
      measured: `${duringFreeze.p99.toFixed(1)} ms`,
      met: duringFreeze.p99 <= 100,
    },
    {
      goal: '0 stale reads after Redis thaws',
      measured: `${freeze.staleAfter}`,
      met: freeze.staleAfter === 0,
    },
    {
      goal: 'commit → entry gone p95 ≤ 1 s through a healthy process while another is cut off',
      measured: `${cut.commitToGone.p95.toFixed(1)} ms (${cut.staleAfter} stale reads)`,
      met: cut.commitToGone.p95 <= 1000,
    },
  ];
  printReport(
    {
      title: 'bench:faults',
      machine,
      tables: [
        table(
          freeze,
          `Redis frozen for ${flags.fault} s under ${flags.connections} readers of ${flags.games} cached games`,
        ),
        table(
          cut,
          `one shop process with an unreachable REDIS_URL beside a healthy one, ${flags.connections} readers`,
        ),
      ],
      goals,
      figures: { freeze, cut, flags },
    },
    flags.json,
  );
});
