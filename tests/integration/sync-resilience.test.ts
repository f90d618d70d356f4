import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import {
  adminToken,
  g2aEnv,
  startSimulator,
  syncAndWait,
  waitForRun,
  type RunningSimulator,
} from '../support/g2a.js';
import { RedisProcess } from '../support/redis-process.js';
import { createTestDatabase } from '../support/services.js';
import { pendingOutbox } from '../support/outbox.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function simulatorWith(products: number, ratePerMinute = 0): Promise<RunningSimulator> {
  const simulator = await startSimulator({ products, ratePerMinute });
  cleanups.push(() => simulator.close());
  return simulator;
}

async function shopWith(options: Parameters<typeof startTestShop>[0]): Promise<TestShop> {
  const shop = await startTestShop(options);
  cleanups.push(() => shop.dispose());
  return shop;
}

/** A `--role worker` shop in a child process without Redis, for tests that kill or stop it. */
function spawnWorker(databaseUrl: string, env: Record<string, string>, logLevel: 'warn' | 'info') {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role', 'worker'], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    env: {
      ...process.env,
      ...env,
      DATABASE_URL: databaseUrl,
      REDIS_URL: '',
      JWT_SECRET: 'test-secret-test-secret-test-secret-42',
      BCRYPT_COST: '4',
      SYNC_SCHEDULES: 'off',
      LOG_LEVEL: logLevel,
    },
    stdio: ['ignore', logLevel === 'info' ? 'pipe' : 'ignore', 'ignore'],
  });
}

/** Triggers a catalogue sync over HTTP; answers its run id and a reader of its `sync_runs` row. */
async function startCatalogSync(api: TestShop, admin: Record<string, string>) {
  const started = await api.app!.inject({
    method: 'POST',
    url: '/api/v1/admin/sync/catalog',
    headers: admin,
  });
  expect(started.statusCode).toBe(202);
  const runId = started.json().runId as string;
  const runRow = () =>
    api.db.selectFrom('sync_runs').selectAll().where('id', '=', runId).executeTakeFirstOrThrow();
  return { runId, runRow };
}

const gameCount = async (shop: TestShop) =>
  (
    await shop.db
      .selectFrom('games')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow()
  ).n;

describe('sync under G2A trouble', () => {
  it('completes through a storm of 429s and random 5xx answers', async () => {
    const simulator = await simulatorWith(100);
    // The simulator admits 2 requests a second; the shop is allowed far more, so it is throttled hard.
    simulator.state.setFaults({ ratePerMinute: 120, rateWindowMs: 1000, errorRate: 0.25 });
    const shop = await shopWith({ env: g2aEnv(simulator.url, 60_000) });
    const admin = await adminToken(shop);

    const run = await syncAndWait(shop, 'catalog', admin);
    expect(run).toMatchObject({
      status: 'finished',
      progress: { pagesDone: 5, pagesTotal: 5, upserted: 100 },
    });
    expect(await gameCount(shop)).toBe(100);
    const stats = simulator.state.stats;
    console.info(
      `storm: ${stats.requests} requests, ${stats.rateLimited} answered 429, ${stats.injectedErrors} answered 5xx`,
    );
    expect(stats.rateLimited).toBeGreaterThan(0);
  });

  it('never exceeds the configured rate: at the limit G2A enforces, no request is refused', async () => {
    const simulator = await simulatorWith(400, 600);
    const shop = await shopWith({ env: g2aEnv(simulator.url, 600) });
    const admin = await adminToken(shop);

    await syncAndWait(shop, 'catalog', admin);
    await syncAndWait(shop, 'stock', admin);
    expect(await gameCount(shop)).toBe(400);
    expect(simulator.state.stats.requests).toBeGreaterThanOrEqual(40);
    expect(simulator.state.stats.rateLimited).toBe(0);
  });

  it('completes with Redis down; its invalidations drain once Redis is back', async () => {
    const simulator = await simulatorWith(60);
    const redis = await RedisProcess.onFreePort();
    await redis.start();
    cleanups.push(() => redis.stop());
    const shop = await shopWith({ env: { ...g2aEnv(simulator.url), REDIS_URL: redis.url } });
    const admin = await adminToken(shop);
    await redis.stop();

    const run = await syncAndWait(shop, 'catalog', admin);
    expect(run.status).toBe('finished');
    expect(await gameCount(shop)).toBe(60);
    expect(await pendingOutbox(shop.db, 'cache.invalidate')).toBeGreaterThan(0);

    await redis.start();
    await waitFor(
      async () => (await pendingOutbox(shop.db, 'cache.invalidate')) === 0,
      'invalidations drained after Redis returned',
      20_000,
    );
  });
});

describe('a worker killed mid-sync', () => {
  it('resumes from the last committed page, with no duplicate games', async () => {
    const simulator = await simulatorWith(200);
    simulator.state.setFaults({ latencyMs: 150 });
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const env = { ...g2aEnv(simulator.url), SYNC_STALE_AFTER_SECONDS: '1' };
    // This process serves the API only; the worker runs in a child process that the test kills.
    const api = await shopWith({ role: 'api', databaseUrl: database.url, withoutRedis: true, env });
    const admin = await adminToken(api);

    const worker = spawnWorker(database.url, env, 'warn');
    cleanups.push(async () => worker.exitCode === null && worker.kill('SIGKILL'));

    const { runId, runRow } = await startCatalogSync(api, admin);
    await waitFor(async () => (await runRow()).last_page >= 3, 'three pages committed by the worker', 30_000);

    const exited = once(worker, 'exit');
    worker.kill('SIGKILL');
    await exited;
    const killedAt = await runRow();
    expect(killedAt.status).toBe('running');
    expect(killedAt.last_page).toBeLessThan(10);
    const requestsBefore = simulator.state.stats.byRoute['GET /v1/products'] ?? 0;
    simulator.state.setFaults({ latencyMs: 0 });

    await waitFor(
      async () => Date.now() - (await runRow()).heartbeat_at.getTime() > 1_000,
      'the dead worker’s run to go stale',
    );
    const resume = await api.app!.inject({
      method: 'POST',
      url: '/api/v1/admin/sync/catalog',
      headers: admin,
    });
    expect(resume.statusCode).toBe(202);
    expect(resume.json()).toEqual({ runId, resumed: true });

    const replacement = await shopWith({
      role: 'worker',
      databaseUrl: database.url,
      withoutRedis: true,
      env,
    });
    void replacement;
    const run = await waitForRun(api, runId, admin);
    expect(run).toMatchObject({ status: 'finished', progress: { pagesDone: 10, pagesTotal: 10 } });
    expect(await gameCount(api)).toBe(200);
    const requestsAfter = (simulator.state.stats.byRoute['GET /v1/products'] ?? 0) - requestsBefore;
    expect(requestsAfter).toBe(10 - killedAt.last_page);
  });
});

describe('a worker stopped (SIGTERM) in the middle of a slow sync', () => {
  it('hands the run on at its next page and exits within 10 s; another worker resumes it at once', async () => {
    const simulator = await simulatorWith(200);
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    // One G2A request every 2 s: a sync of 10 pages takes 20 s, far longer than a stop may.
    const env = g2aEnv(simulator.url, 30);
    const api = await shopWith({ role: 'api', databaseUrl: database.url, withoutRedis: true, env });
    const admin = await adminToken(api);
    const worker = spawnWorker(database.url, env, 'info');
    let output = '';
    worker.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    cleanups.push(async () => worker.exitCode === null && worker.kill('SIGKILL'));

    const { runId, runRow } = await startCatalogSync(api, admin);
    await waitFor(async () => (await runRow()).last_page >= 1, 'a page committed by the worker', 30_000);
    await waitFor(async () => output.includes('Keyshop worker is up') || undefined, 'the worker up', 30_000);
    const jobBefore = (await runRow()).job_id;

    const exited = once(worker, 'exit');
    const stoppedAt = Date.now();
    worker.kill('SIGTERM');
    const [code, signalName] = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('the worker did not exit within 10 s of SIGTERM')), 10_000),
      ),
    ]);
    const stopSeconds = (Date.now() - stoppedAt) / 1000;
    if (code !== 0) console.error(`worker ended by ${String(signalName)}:\n${output.slice(-3000)}`);
    expect(code).toBe(0);
    expect(output).toContain('sync run handed on');
    expect(output).not.toContain('error during shutdown');

    const handedOn = await runRow();
    expect(handedOn.status).toBe('running');
    expect(handedOn.last_page).toBeLessThan(10);
    expect(handedOn.heartbeat_at?.getTime(), JSON.stringify(handedOn)).toBe(0);
    expect(handedOn.job_id).not.toBe(jobBefore);
    const { rows } = await sql<{ state: string }>`
      SELECT state FROM pgboss.job WHERE id = ${handedOn.job_id}::uuid`.execute(api.db);
    expect(rows[0]?.state).toBe('created');

    // A second worker takes the queued job at once, with no trigger, and resumes after the last page.
    const replacement = await shopWith({
      role: 'worker',
      databaseUrl: database.url,
      withoutRedis: true,
      env,
    });
    void replacement;
    const run = await waitForRun(api, runId, admin, 60_000);
    expect(run).toMatchObject({ status: 'finished', progress: { pagesDone: 10, pagesTotal: 10 } });
    expect(await gameCount(api)).toBe(200);
    console.info(`SIGTERM mid-sync: exited in ${stopSeconds.toFixed(1)} s after page ${handedOn.last_page}`);
  });
});
