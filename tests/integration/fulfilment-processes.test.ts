import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request as forward } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { g2aEnv, startSimulator, syncAndWait, type RunningSimulator } from '../support/g2a.js';
import {
  gamesFor,
  noLiveLease,
  recordG2ACalls,
  refundEntries,
  stockedProducts,
  unitRows,
  type G2ACallLog,
  type UnitRow,
} from '../support/fulfilment.js';
import { ApiClient, type Headers } from '../support/http.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { createTestDatabase, redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

// Fulfilment across real processes: worker processes (`--role worker`) buying keys from one G2A simulator,
// killed with SIGKILL at every step of a unit, and two of them sharing one G2A rate. The API runs in the test
// process (role `api`: it never fulfils), so every G2A call comes from the workers under test.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const JWT_SECRET = 'test-secret-test-secret-test-secret-42';
/** How long a unit stays held by a worker that died; a G2A call must be answered well within it. */
const LEASE_SECONDS = 5;
const G2A_TIMEOUT_SECONDS = 4;
/** How long an unanswered create keeps the unit from a second G2A order. */
const RESERVATION_SECONDS = 3;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Rig {
  simulator: RunningSimulator;
  calls: G2ACallLog;
  databaseUrl: string;
  /** The shop's environment, shared by the API and every worker (one database, one Redis prefix). */
  env: Record<string, string>;
  api: TestShop;
  http: ApiClient;
  admin: Headers;
  products: string[];
}

/** A fresh database, a simulator with `stocked` plentiful products, and the shop's API in this process. */
async function startRig(options: {
  stocked: number;
  simulatorRatePerMinute?: number;
  env?: Record<string, string>;
}): Promise<Rig> {
  const simulator = await startSimulator({ products: 20, ratePerMinute: options.simulatorRatePerMinute });
  cleanups.push(() => simulator.close());
  const products = stockedProducts(simulator, options.stocked);
  const calls = recordG2ACalls(simulator);
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  const env = {
    ...g2aEnv(simulator.url),
    REDIS_KEY_PREFIX: uniqueRedisPrefix(),
    FULFILMENT_LEASE_SECONDS: String(LEASE_SECONDS),
    G2A_TIMEOUT_SECONDS: String(G2A_TIMEOUT_SECONDS),
    G2A_ORDER_RESERVATION_SECONDS: String(RESERVATION_SECONDS),
    AUTH_RATE_LIMIT_PER_IP: '10000',
    ...options.env,
  };
  const api = await startTestShop({ role: 'api', databaseUrl: database.url, env });
  cleanups.push(() => api.close());
  const http = new ApiClient(api);
  const admin = await http.admin();
  return { simulator, calls, databaseUrl: database.url, env, api, http, admin, products };
}

interface WorkerProcess {
  child: ChildProcess;
  /** Its JSON log lines, parsed. */
  logs: Record<string, unknown>[];
  /** Resolves once the process logged that it is up; rejects if it exits first. */
  up: Promise<void>;
  kill(): Promise<void>;
}

/** `src/main.ts --role worker` in a child process, on the rig's database, Redis prefix and G2A. */
function spawnWorker(rig: Rig, env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--role', 'worker'], {
    cwd: ROOT,
    env: {
      ...process.env,
      ...rig.env,
      ...env,
      DATABASE_URL: rig.databaseUrl,
      REDIS_URL: redisUrl(),
      JWT_SECRET,
      BCRYPT_COST: '4',
      SYNC_SCHEDULES: 'off',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  let isUp: () => void;
  const up = new Promise<void>((resolve, reject) => {
    isUp = resolve;
    child.once('exit', (code, signal) =>
      reject(new Error(`worker exited (${code ?? signal}) before it was up:\n${stderr.join('\n')}`)),
    );
  });
  up.catch(() => {});
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      if (entry.msg === 'Keyshop worker is up') isUp();
    } catch {
      stderr.push(line);
    }
  });
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  cleanups.push(async () => {
    await kill();
    if (process.env.TEST_LOG_LEVEL && stderr.length) console.error(stderr.join('\n'));
  });
  return { child, logs, up, kill };
}

/** An in-process worker on the rig's database and Redis prefix: the replacement of a killed one. */
async function replacementWorker(rig: Rig): Promise<TestShop> {
  const worker = await startTestShop({ role: 'worker', databaseUrl: rig.databaseUrl, env: rig.env });
  cleanups.push(() => worker.close());
  return worker;
}

/** A customer with `balanceCents`, through the admin API. */
async function customer(rig: Rig, balanceCents: number) {
  const { headers, userId } = await rig.http.registered();
  const topUp = await rig.http.post(
    `/admin/users/${userId}/top-ups`,
    { amountCents: balanceCents, reference: `t-${randomUUID()}` },
    rig.admin,
  );
  expect(topUp.statusCode, topUp.body).toBe(201);
  return { headers, userId };
}

/** Syncs, then runs `beforeOrder` (a fault to set once the catalogue is in), then places the order. */
async function placeOrderWith(rig: Rig, games: number, quantity: number, beforeOrder?: () => void) {
  const run = await syncAndWait(rig.api, 'catalog', rig.admin);
  expect(run.status).toBe('finished');
  const chosen = await gamesFor(rig.api.db, rig.products.slice(0, games));
  const who = await customer(rig, 1_000_000);
  beforeOrder?.();
  const response = await rig.http.post(
    '/orders',
    { items: chosen.map((game) => ({ gameId: game.id, quantity })) },
    { ...who.headers, 'idempotency-key': randomUUID() },
  );
  expect(response.statusCode, response.body).toBe(201);
  return { orderId: response.json().id as string, who, units: games * quantity };
}

const unitsOf = (rig: Rig, orderId: string) => unitRows(rig.api.db, [orderId]);

/** Waits until `predicate` holds for the order's units; answers them. */
function unitsWhen(
  rig: Rig,
  orderId: string,
  predicate: (units: UnitRow[]) => boolean,
  what: string,
  timeoutMs = 20_000,
) {
  return waitFor(
    async () => {
      const units = await unitsOf(rig, orderId);
      return units.length > 0 && predicate(units) ? units : undefined;
    },
    what,
    timeoutMs,
  );
}

/**
 * What every run must end in: the order completed through the API, every unit delivered with the key G2A
 * issued for its own order, exactly one paid G2A order per unit (orders left unpaid are allowed), no unit
 * refunded, and the ledger whole.
 */
async function expectFulfilled(
  rig: Rig,
  order: Awaited<ReturnType<typeof placeOrderWith>>,
  timeoutMs = 30_000,
) {
  const units = await unitsWhen(
    rig,
    order.orderId,
    (all) => all.every((unit) => unit.state === 'delivered'),
    `all ${order.units} units delivered`,
    timeoutMs,
  );
  expect(units).toHaveLength(order.units);
  const view = await rig.http.get(`/orders/${order.orderId}`, order.who.headers);
  expect(view.json().status).toBe('completed');
  const keys = view.json().items.flatMap((item: { keys: string[] }) => item.keys) as string[];
  expect(keys).toHaveLength(order.units);

  const simOrders = rig.simulator.state.listOrders();
  const paid = simOrders.filter((o) => o.paid);
  expect(paid).toHaveLength(order.units);
  expect(new Set(paid.map((o) => o.orderId))).toEqual(new Set(units.map((unit) => unit.g2a_order_id)));
  for (const unit of units) {
    const atG2A = rig.simulator.state.findOrder(unit.g2a_order_id!)!;
    expect(atG2A.productId).toBe(unit.g2a_product_id);
  }
  expect(new Set(keys)).toEqual(new Set(paid.map((o) => rig.simulator.state.findOrder(o.orderId)!.key)));
  // Every G2A order the workers made for this order's products is accounted for: paid ones by a unit each.
  expect(rig.calls.creates.filter((c) => c.orderId).length).toBe(simOrders.length);
  expect(await refundEntries(rig.api.db)).toBe(0);
  expect(await ledgerViolations(rig.api.db)).toEqual([]);
  return { units, simOrders, paid };
}

/**
 * A gateway in front of G2A that forwards every request but answers the first `POST /v1/order` with a 502
 * after G2A processed it: G2A made an order whose answer never reached the shop.
 */
async function gatewayFailingFirstCreate(target: string) {
  const upstream = new URL(target);
  let failed = 0;
  const server = createServer((request, response) => {
    const body: Buffer[] = [];
    request.on('data', (chunk: Buffer) => body.push(chunk));
    request.on('end', () => {
      const proxied = forward(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: request.url,
          method: request.method,
          headers: request.headers,
        },
        (answer) => {
          const answered: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => answered.push(chunk));
          answer.on('end', () => {
            if (request.method === 'POST' && request.url === '/v1/order' && failed === 0) {
              failed++;
              response.writeHead(502, { 'content-type': 'application/json' });
              response.end(JSON.stringify({ status: 'ERROR', code: 'ORD122', message: 'Bad gateway' }));
              return;
            }
            response.writeHead(answer.statusCode ?? 502, answer.headers);
            response.end(Buffer.concat(answered));
          });
        },
      );
      proxied.on('error', () => response.destroy());
      proxied.end(Buffer.concat(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    failed: () => failed,
  };
}

describe('fulfilment under G2A faults', () => {
  it('delivers a 50-unit order through 30 % random 5xx answers and late keys: one paid G2A order per unit', async () => {
    const simulator = await startSimulator({ products: 40, ratePerMinute: 0 });
    cleanups.push(() => simulator.close());
    const products = stockedProducts(simulator, 10);
    const calls = recordG2ACalls(simulator);
    const shop = await startTestShop({
      env: {
        ...g2aEnv(simulator.url),
        // A create answered 5xx may have made an order: a second one waits for it to lapse.
        G2A_ORDER_RESERVATION_SECONDS: '1',
        AUTH_RATE_LIMIT_PER_IP: '10000',
      },
    });
    cleanups.push(() => shop.dispose());
    const http = new ApiClient(shop);
    const admin = await http.admin();
    expect((await syncAndWait(shop, 'catalog', admin)).status).toBe('finished');
    const games = await gamesFor(shop.db, products);
    const { headers, userId } = await http.registered();
    const topUp = await http.post(
      `/admin/users/${userId}/top-ups`,
      { amountCents: 1_000_000, reference: randomUUID() },
      admin,
    );
    expect(topUp.statusCode, topUp.body).toBe(201);

    simulator.state.setFaults({ errorRate: 0.3, keyDelayMs: 300 });
    const placed = await http.post(
      '/orders',
      { items: games.map((game) => ({ gameId: game.id, quantity: 5 })) },
      { ...headers, 'idempotency-key': randomUUID() },
    );
    expect(placed.statusCode, placed.body).toBe(201);
    const orderId = placed.json().id as string;

    const units = await waitFor(
      async () => {
        const all = await unitRows(shop.db, [orderId]);
        return all.every((unit) => unit.state === 'delivered') ? all : undefined;
      },
      'all 50 units delivered',
      // 45–190 s: a unit's retry delay (1, 2, 5, 10, 30, 60 s) follows every failure of every step, so the
      // one unit in fifty that met five or six 5xx answers waits out 30 s and 60 s backoffs.
      280_000,
    ).catch(async (error: Error) => {
      const open = (await unitRows(shop.db, [orderId])).filter((unit) => unit.state !== 'delivered');
      const detail = await shop.db
        .selectFrom('order_units')
        .select(['id', 'state', 'attempts', 'next_attempt_at', 'lease_until', 'last_error'])
        .where(
          'id',
          'in',
          open.map((unit) => unit.id),
        )
        .execute();
      throw new Error(`${error.message}; undelivered: ${JSON.stringify(detail)}`);
    });
    expect(units).toHaveLength(50);
    const view = (await http.get(`/orders/${orderId}`, headers)).json();
    expect(view.status).toBe('completed');
    expect(new Set(view.items.flatMap((item: { keys: string[] }) => item.keys)).size).toBe(50);

    const orders = simulator.state.listOrders();
    expect(orders).toHaveLength(50);
    expect(orders.every((o) => o.paid)).toBe(true);
    expect(new Set(units.map((unit) => unit.g2a_order_id))).toEqual(new Set(orders.map((o) => o.orderId)));
    for (const unit of units) {
      expect(simulator.state.findOrder(unit.g2a_order_id!)!.productId).toBe(unit.g2a_product_id);
    }
    expect(calls.creates.filter((c) => c.orderId)).toHaveLength(50);
    expect(simulator.state.stats.injectedErrors).toBeGreaterThan(10);
    expect(await refundEntries(shop.db)).toBe(0);
    expect(await ledgerViolations(shop.db)).toEqual([]);
    console.info(
      `50 units through faults: ${simulator.state.stats.requests} G2A requests, ` +
        `${simulator.state.stats.injectedErrors} answered 5xx`,
    );
  }, 300_000);

  it('a create answered 502 after G2A made the order: no second order until the first has lapsed', async () => {
    const simulator = await startSimulator({ products: 20, ratePerMinute: 0 });
    cleanups.push(() => simulator.close());
    const products = stockedProducts(simulator, 1);
    const calls = recordG2ACalls(simulator);
    const gateway = await gatewayFailingFirstCreate(simulator.url);
    const shop = await startTestShop({
      env: {
        ...g2aEnv(gateway.url),
        G2A_ORDER_RESERVATION_SECONDS: String(RESERVATION_SECONDS),
        AUTH_RATE_LIMIT_PER_IP: '10000',
      },
    });
    cleanups.push(() => shop.dispose());
    const http = new ApiClient(shop);
    const admin = await http.admin();
    expect((await syncAndWait(shop, 'catalog', admin)).status).toBe('finished');
    const [game] = await gamesFor(shop.db, products);
    const { headers, userId } = await http.registered();
    const topUp = await http.post(
      `/admin/users/${userId}/top-ups`,
      { amountCents: 100_000, reference: randomUUID() },
      admin,
    );
    expect(topUp.statusCode, topUp.body).toBe(201);
    const placed = await http.post(
      '/orders',
      { items: [{ gameId: game!.id, quantity: 1 }] },
      { ...headers, 'idempotency-key': randomUUID() },
    );
    expect(placed.statusCode, placed.body).toBe(201);
    const [unit] = await waitFor(
      async () => {
        const units = await unitRows(shop.db, [placed.json().id as string]);
        return units[0]?.state === 'delivered' ? units : undefined;
      },
      'the unit delivered',
      20_000,
    );
    expect(gateway.failed()).toBe(1);
    // G2A made two orders for the unit: the one whose answer the gateway lost (never paid), and, only once
    // that one had lapsed, the one the unit was bought with.
    const [lost, bought] = calls.creates;
    expect(calls.creates).toHaveLength(2);
    expect(simulator.state.findOrder(lost!.orderId!)!.paid).toBe(false);
    expect(unit!.g2a_order_id).toBe(bought!.orderId);
    expect(bought!.at - lost!.at).toBeGreaterThanOrEqual(RESERVATION_SECONDS * 1000 - 50);
    expect(await refundEntries(shop.db)).toBe(0);
  });
});

describe('a worker process SIGKILLed mid-fulfilment', () => {
  /** Kills `worker`, then starts a replacement once the dead worker's leases ran out. */
  async function killAndReplace(rig: Rig, worker: WorkerProcess) {
    await worker.kill();
    rig.simulator.state.setFaults({ latencyMs: 0 });
    await waitFor(() => noLiveLease(rig.api.db), 'the killed worker’s leases to run out', 10_000);
    return replacementWorker(rig);
  }

  it('while its create calls are in flight: G2A made the orders, the answers were lost', async () => {
    const rig = await startRig({ stocked: 2 });
    const worker = spawnWorker(rig);
    await worker.up;
    const order = await placeOrderWith(rig, 2, 1, () => rig.simulator.state.setFaults({ latencyMs: 2_000 }));
    await unitsWhen(
      rig,
      order.orderId,
      (units) =>
        rig.simulator.state.listOrders().length === 2 &&
        units.every((unit) => unit.create_started_at !== null && unit.g2a_order_id === null),
      'both creates processed by G2A, their answers not back',
    );
    await killAndReplace(rig, worker);

    const { units, simOrders } = await expectFulfilled(rig, order);
    // The orders whose answers were lost are never paid nor used: each unit was bought again after they lapsed.
    const lost = simOrders.filter((o) => !units.some((unit) => unit.g2a_order_id === o.orderId));
    expect(lost).toHaveLength(2);
    for (const o of lost) expect(o.paid).toBe(false);
    for (const unit of units) expect(rig.calls.pays.get(unit.g2a_order_id!)).toBe(1);
  });

  it('after a unit is ordered, before its payment left', async () => {
    const rig = await startRig({ stocked: 2 });
    // One G2A request a second for the doomed worker: its pay waits in the shared limiter.
    const worker = spawnWorker(rig, { G2A_RATE_PER_MINUTE: '60' });
    await worker.up;
    const order = await placeOrderWith(rig, 2, 1);
    await unitsWhen(
      rig,
      order.orderId,
      (units) => units.some((unit) => unit.state === 'ordered') && rig.calls.pays.size === 0,
      'a unit ordered, no payment sent',
    );
    const payRequests = rig.simulator.state.stats.byRoute['PUT /v1/order/pay/:id'] ?? 0;
    await killAndReplace(rig, worker);
    expect(payRequests).toBe(0);

    const { units } = await expectFulfilled(rig, order);
    for (const unit of units) expect(rig.calls.pays.get(unit.g2a_order_id!)).toBe(1);
  });

  it('while its pay calls are in flight: G2A took the payments, the answers were lost', async () => {
    const rig = await startRig({ stocked: 2 });
    const worker = spawnWorker(rig);
    await worker.up;
    const order = await placeOrderWith(rig, 2, 1, () => rig.simulator.state.setFaults({ latencyMs: 1_000 }));
    await unitsWhen(
      rig,
      order.orderId,
      (units) =>
        units.some(
          (unit) =>
            unit.state === 'ordered' && rig.simulator.state.findOrder(unit.g2a_order_id!)?.paid === true,
        ),
      'an order paid at G2A, the shop not told yet',
    );
    await worker.kill();
    // Paid at G2A, still `ordered` in the shop: the payments whose answers died with the worker.
    const answersLost = (await unitsOf(rig, order.orderId))
      .filter((unit) => unit.state === 'ordered' && rig.simulator.state.findOrder(unit.g2a_order_id!)!.paid)
      .map((unit) => unit.g2a_order_id!);
    expect(answersLost.length).toBeGreaterThan(0);
    await killAndReplace(rig, worker);

    const { simOrders } = await expectFulfilled(rig, order);
    expect(simOrders).toHaveLength(2);
    // A payment whose answer was lost is looked up at G2A, never sent again.
    for (const o of simOrders) expect(rig.calls.pays.get(o.orderId), `pays of ${o.orderId}`).toBe(1);
    for (const id of answersLost)
      expect(rig.calls.details.get(id) ?? 0, `look-ups of ${id}`).toBeGreaterThan(0);
  });

  it('after its units are paid, while their keys are not ready yet', async () => {
    const rig = await startRig({ stocked: 2 });
    const worker = spawnWorker(rig);
    await worker.up;
    const order = await placeOrderWith(rig, 2, 1, () => rig.simulator.state.setFaults({ keyDelayMs: 3_000 }));
    await unitsWhen(
      rig,
      order.orderId,
      (units) =>
        units.every((unit) => unit.state === 'paid') &&
        (rig.simulator.state.stats.byRoute['GET /v1/order/key/:id'] ?? 0) >= 2,
      'both units paid, their keys asked for and not ready',
    );
    expect(rig.simulator.state.listOrders().every((o) => !o.keyDelivered)).toBe(true);
    await killAndReplace(rig, worker);

    const { units } = await expectFulfilled(rig, order);
    for (const unit of units) expect(rig.calls.pays.get(unit.g2a_order_id!)).toBe(1);
  });

  it('while its key fetches are in flight: G2A handed the keys out, the answers were lost', async () => {
    const rig = await startRig({ stocked: 2 });
    const worker = spawnWorker(rig);
    await worker.up;
    const order = await placeOrderWith(rig, 2, 1, () => rig.simulator.state.setFaults({ keyDelayMs: 800 }));
    await unitsWhen(
      rig,
      order.orderId,
      (units) => units.some((unit) => unit.state === 'paid'),
      'a unit paid',
    );
    rig.simulator.state.setFaults({ latencyMs: 2_000 });
    await unitsWhen(
      rig,
      order.orderId,
      (units) =>
        units.some(
          (unit) => unit.state === 'paid' && rig.simulator.state.findOrder(unit.g2a_order_id!)!.keyDelivered,
        ),
      'a key handed out by G2A, not stored yet',
    );
    await killAndReplace(rig, worker);

    const { units } = await expectFulfilled(rig, order);
    for (const unit of units) expect(rig.calls.pays.get(unit.g2a_order_id!)).toBe(1);
  });
});

describe('two worker processes on one database, one Redis and one G2A', () => {
  it('fulfil an order together: no unit handled twice, and G2A’s rate never exceeded', async () => {
    const RATE = 180;
    const rig = await startRig({
      stocked: 10,
      simulatorRatePerMinute: RATE,
      env: { G2A_RATE_PER_MINUTE: String(RATE), FULFILMENT_LEASE_SECONDS: '300' },
    });
    // G2A counts in 10-second windows: 30 requests each, the shop's per-minute rate scaled.
    rig.simulator.state.setFaults({ rateWindowMs: 10_000 });
    // Both start at once on a fresh database: they race to create pg-boss's queues, and both must come up.
    const workers = [spawnWorker(rig), spawnWorker(rig)];
    await Promise.all(workers.map((worker) => worker.up));
    // 30 units: more than one process takes at once (4 workers × 5), so both work side by side.
    const order = await placeOrderWith(rig, 10, 3);
    const { units, paid } = await expectFulfilled(rig, order, 90_000);

    // Each unit bought once: one create, and one pay per G2A order.
    expect(rig.calls.creates).toHaveLength(30);
    for (const o of paid) expect(rig.calls.pays.get(o.orderId)).toBe(1);
    for (const worker of workers) expect(worker.child.exitCode).toBeNull();
    const stats = rig.simulator.state.stats;
    expect(stats.rateLimited).toBe(0);
    expect(stats.requests).toBeGreaterThanOrEqual(90);

    // Both processes did share the work, and no unit's create was logged by both.
    const createdBy = workers.map(
      (worker) =>
        new Set(
          worker.logs
            .filter((line) => line.operation === 'fulfilment.create' && line.outcome === 'advanced')
            .map((line) => line.unitId as string),
        ),
    );
    expect(createdBy[0]!.size + createdBy[1]!.size).toBe(units.length);
    expect(createdBy[0]!.size).toBeGreaterThan(0);
    expect(createdBy[1]!.size).toBeGreaterThan(0);
    console.info(
      `two workers: ${createdBy[0]!.size} + ${createdBy[1]!.size} units, ${stats.requests} G2A requests, ` +
        `${stats.rateLimited} answered 429`,
    );
  }, 120_000);
});
