import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retailPriceCents } from '../../src/domain/money.js';
import { freePort } from '../support/free-port.js';
import { g2aEnv, startSimulator, type RunningSimulator } from '../support/g2a.js';
import { createTestDatabase, redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { waitFor } from '../support/wait-for.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

interface ShopProcess {
  role: 'api' | 'worker';
  child: ChildProcess;
  output: string[];
  url?: string;
}

/**
 * The shop as it is deployed: two `--role api` processes and one `--role worker` process, each a real
 * `node src/main.ts`, on one database and one Redis, G2A being the simulator (as the worker reaches it over HTTP).
 */
describe('two API processes and a worker', () => {
  const processes: ShopProcess[] = [];
  let database: { url: string; drop: () => Promise<void> };
  let simulator: RunningSimulator;
  let env: Record<string, string>;
  let a: ShopProcess;
  let b: ShopProcess;

  function start(role: 'api' | 'worker', port?: number): ShopProcess {
    const child = spawn(process.execPath, ['--import', TSX, path.join(REPO, 'src/main.ts'), '--role', role], {
      cwd: REPO,
      env: { ...env, ...(port ? { PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const shop: ShopProcess = { role, child, output: [], url: port ? `http://127.0.0.1:${port}` : undefined };
    const keep = (chunk: Buffer) => shop.output.push(...chunk.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    processes.push(shop);
    return shop;
  }

  async function call(shop: ShopProcess, method: string, route: string, body?: unknown, headers = {}) {
    const response = await fetch(`${shop.url}/api/v1${route}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers of many shapes, read by the test
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : {} };
  }

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  async function syncVia(shop: ShopProcess, kind: 'catalog' | 'stock', admin: Record<string, string>) {
    const started = await call(shop, 'POST', `/admin/sync/${kind}`, undefined, admin);
    expect(started.status).toBe(202);
    // Read through the other API process: the run is the worker's, the state the database's.
    const other = shop === a ? b : a;
    return waitFor(
      async () => {
        const status = await call(other, 'GET', '/admin/sync/status', undefined, admin);
        const run = (status.body.runs as { runId: string; status: string }[]).find(
          (r) => r.runId === started.body.runId,
        );
        return run && !['queued', 'running'].includes(run.status) ? run : undefined;
      },
      `the ${kind} sync to end`,
      60_000,
    );
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    simulator = await startSimulator({ products: 20 });
    env = {
      PATH: process.env.PATH!,
      HOME: process.env.HOME ?? '/tmp',
      HOST: '127.0.0.1',
      DATABASE_URL: database.url,
      REDIS_URL: redisUrl(),
      REDIS_KEY_PREFIX: uniqueRedisPrefix(),
      JWT_SECRET: 'multi-process-secret-multi-process-0123',
      KEYS_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
      BCRYPT_COST: '4',
      LOG_LEVEL: 'warn',
      SYNC_SCHEDULES: 'off',
      AUTH_RATE_LIMIT_PER_IP: '1000000',
      GUEST_SESSION_RATE_LIMIT_PER_IP: '1000000',
      ...g2aEnv(simulator.url),
    };
    // Migrations first, once, as the compose file runs them; then the processes all at once.
    const migrate = spawn(process.execPath, ['--import', TSX, path.join(REPO, 'src/cli/migrate.ts')], {
      cwd: REPO,
      env,
      stdio: 'ignore',
    });
    expect((await once(migrate, 'exit'))[0]).toBe(0);
    a = start('api', await freePort());
    b = start('api', await freePort());
    start('worker');
    for (const shop of [a, b])
      await waitFor(
        async () => (await fetch(`${shop.url}/health`)).ok,
        `API process to answer: ${shop.output.join('\n')}`,
        60_000,
      );
  }, 90_000);

  afterAll(async () => {
    await Promise.all(
      processes.map(async (shop) => {
        if (shop.child.exitCode !== null) return;
        shop.child.kill('SIGKILL');
        await once(shop.child, 'exit');
      }),
    );
    await simulator?.close();
    await database?.drop();
  });

  it('signs up, syncs, invalidates, keeps a cart and fulfils an order across the processes', async () => {
    // An operator, made with the CLI against the same database.
    const adminEmail = `ops-${randomUUID()}@example.com`;
    const cli = spawn(
      process.execPath,
      [
        '--import',
        TSX,
        path.join(REPO, 'src/cli/admin-create.ts'),
        '--email',
        adminEmail,
        '--password',
        'an operator password',
      ],
      { cwd: REPO, env, stdio: 'ignore' },
    );
    expect((await once(cli, 'exit'))[0]).toBe(0);
    const adminLogin = await call(b, 'POST', '/auth/login', {
      email: adminEmail,
      password: 'an operator password',
    });
    expect(adminLogin.status).toBe(200);
    const admin = bearer(adminLogin.body.accessToken as string);

    // A shopper signs up through one process and signs in through the other.
    const email = `shopper-${randomUUID()}@example.com`;
    const registered = await call(a, 'POST', '/auth/register', { email, password: 'a shopper password' });
    expect(registered.status).toBe(201);
    const userId = registered.body.user.id as string;
    const signedIn = await call(b, 'POST', '/auth/login', { email, password: 'a shopper password' });
    expect(signedIn.status).toBe(200);
    const shopper = bearer(signedIn.body.accessToken as string);

    // A catalogue sync asked of one API process is run by the worker.
    expect(await syncVia(a, 'catalog', admin)).toMatchObject({ status: 'finished' });
    const listed = await call(b, 'GET', '/games?pageSize=50&inStock=true');
    expect(listed.body.total).toBeGreaterThan(0);
    const game = (listed.body.items as { id: string; g2aProductId: string; priceCents: number }[])[0]!;

    // Both processes cache the game; a price change at G2A, synced by the worker, reaches both.
    for (const shop of [a, b, a, b])
      expect((await call(shop, 'GET', `/games/${game.id}`)).body.priceCents).toBe(game.priceCents);
    const product = simulator.state.findProduct(game.g2aProductId)!;
    const newCost = Number((product.minPrice + 5).toFixed(2));
    const changed = await fetch(`${simulator.url}/__sim/products/${product.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ minPrice: newCost }),
    });
    expect(changed.ok).toBe(true);
    expect(await syncVia(b, 'stock', admin)).toMatchObject({ status: 'finished' });
    const repriced = retailPriceCents(Math.round(newCost * 100), 2);
    for (const shop of [a, b])
      await waitFor(
        async () => (await call(shop, 'GET', `/games/${game.id}`)).body.priceCents === repriced,
        `the new price through the ${shop.url} process`,
        10_000,
      );
    const page = await call(a, 'GET', '/games?pageSize=50&inStock=true');
    expect(
      (page.body.items as { id: string; priceCents: number }[]).find((g) => g.id === game.id)?.priceCents,
    ).toBe(repriced);

    // The cart filled through one process is the cart read through the other.
    expect((await call(a, 'POST', '/cart/items', { gameId: game.id, quantity: 1 }, shopper)).status).toBe(
      201,
    );
    const cart = await call(b, 'GET', '/cart', undefined, shopper);
    expect(cart.body.items).toEqual([expect.objectContaining({ gameId: game.id, quantity: 1 })]);

    // Money in through one process, the order through the other, its key bought by the worker.
    const topUp = await call(
      a,
      'POST',
      `/admin/users/${userId}/top-ups`,
      { amountCents: 100_000, reference: randomUUID() },
      admin,
    );
    expect(topUp.status).toBe(201);
    const placed = await call(b, 'POST', '/orders', {}, { ...shopper, 'idempotency-key': randomUUID() });
    expect(placed.status).toBe(201);
    const done = await waitFor(
      async () => {
        const order = await call(a, 'GET', `/orders/${placed.body.id}`, undefined, shopper);
        return order.body.status === 'completed' ? order.body : undefined;
      },
      'the order to be fulfilled by the worker',
      30_000,
    );
    expect((done.items as { keys?: string[] }[]).flatMap((item) => item.keys ?? [])).toHaveLength(1);
    expect(simulator.state.listOrders()).toHaveLength(1);

    // Nothing went wrong in any process, and each stops cleanly.
    for (const shop of processes) {
      expect(shop.output.filter((line) => /"level":(50|60)/.test(line))).toEqual([]);
      shop.child.kill('SIGTERM');
      expect((await once(shop.child, 'exit'))[0]).toBe(0);
    }
  }, 120_000);
});
