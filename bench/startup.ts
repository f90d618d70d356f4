import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createBenchDatabase } from './support/bench-database.js';
import { describeMachine } from './support/describe-machine.js';
import { parseFlags } from './support/parse-flags.js';
import { printReport } from './support/print-report.js';
import { createRedisNamespace } from './support/redis-namespace.js';
import { runBench } from './support/run-bench.js';
import { runLoad } from './support/run-load.js';
import { serviceUrls } from './support/service-urls.js';
import { startShopProcess } from './support/shop-process.js';
import { summarize } from './support/summarize.js';

const flags = parseFlags(
  'npm run bench:startup --',
  'Start-up time and resident memory of the shop from its production build (node dist/main.js) against tsx (npm start).',
  {
    runs: { type: 'number', default: 5, min: 1, integer: true, description: 'starts of each, alternated' },
  },
);

/** Resident memory of a process, in MiB (`VmRSS` of /proc). */
function residentMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(/(\d+)/.exec(line ?? '')?.[1] ?? NaN) / 1024;
}

await runBench('bench:startup', async ({ defer, log }) => {
  const machine = describeMachine();
  log('building dist/ (npm run build)');
  execFileSync('npm', ['run', 'build'], { stdio: 'ignore' });
  const { databaseUrl, redisUrl } = serviceUrls();
  const database = await createBenchDatabase(databaseUrl, 'startup');
  defer('drop the database', () => database.drop());
  const redis = createRedisNamespace(redisUrl, 'startup');
  defer('delete the Redis keys', () => redis.clear());

  const runners = [
    { name: 'node dist/main.js', fromBuild: true },
    { name: 'tsx src/main.ts', fromBuild: false },
  ];
  const figures = new Map(
    runners.map((r) => [r.name, { startMs: [] as number[], idle: [] as number[], loaded: [] as number[] }]),
  );
  // One start first, unmeasured: it migrates the fresh database.
  await (
    await startShopProcess({
      name: 'migrating',
      databaseUrl: database.url,
      redisUrl,
      redisKeyPrefix: redis.prefix,
      role: 'api',
    })
  ).stop();
  for (let run = 0; run < flags.runs; run += 1) {
    for (const runner of runners) {
      const started = performance.now();
      const shop = await startShopProcess({
        name: runner.name,
        fromBuild: runner.fromBuild,
        databaseUrl: database.url,
        redisUrl,
        redisKeyPrefix: redis.prefix,
        role: 'api',
      });
      const mine = figures.get(runner.name)!;
      mine.startMs.push(performance.now() - started);
      mine.idle.push(residentMiB(shop.pid));
      await runLoad({
        url: shop.url,
        connections: 20,
        durationSeconds: 2,
        requests: [{ method: 'GET', path: '/api/v1/games?page=1&pageSize=20' }],
      });
      mine.loaded.push(residentMiB(shop.pid));
      await shop.stop();
      log(`${runner.name}: run ${run + 1} started in ${Math.round(mine.startMs.at(-1)!)} ms`);
    }
  }
  const rows = runners.map((runner) => {
    const mine = figures.get(runner.name)!;
    return [
      runner.name,
      summarize(mine.startMs).p50,
      Math.min(...mine.startMs),
      Math.max(...mine.startMs),
      summarize(mine.idle).p50,
      summarize(mine.loaded).p50,
    ];
  });
  const [build, tsx] = runners.map((r) => summarize(figures.get(r.name)!.startMs).p50);
  printReport(
    {
      title: 'bench:startup',
      machine,
      tables: [
        {
          title: `${flags.runs} starts of each, alternated, --role api with PostgreSQL and Redis (migrated database)`,
          headers: ['runner', 'start p50 ms', 'min ms', 'max ms', 'RSS idle MiB', 'RSS after load MiB'],
          rows,
          notes: [
            'Start: from spawning the process to its first 2xx on /health (polled every 100 ms). RSS: VmRSS of the',
            'process right after that, and after 2 s of catalogue reads at 20 connections.',
          ],
        },
      ],
      goals: [
        {
          goal: 'node dist/main.js starts faster than tsx src/main.ts',
          measured: `${(build! / tsx!).toFixed(2)} × tsx's start-up time`,
          met: build! < tsx!,
        },
      ],
      figures: Object.fromEntries(figures),
    },
    flags.json,
  );
});
