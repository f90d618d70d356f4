import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATOR_DEV_CREDENTIALS } from '../../src/adapters/g2a/simulator-defaults.js';
import { createG2ASimulator, type G2ASimulator } from '../../src/adapters/g2a/simulator.js';
import type { SimulatedOrderFailure } from '../../src/adapters/g2a/simulator-state.js';
import { g2aEnv, syncAndWait } from '../support/g2a.js';
import {
  gamesFor,
  recordG2ACalls,
  refundEntries,
  stockedProducts,
  unitRows,
  webhookHeaders,
  type G2ACallLog,
} from '../support/fulfilment.js';
import { ApiClient, type Headers } from '../support/http.js';
import { RecordingMailer } from '../support/recording-mailer.js';
import { balanceOf, ledgerViolations } from '../support/ledger-invariants.js';
import { outboxJobs } from '../support/outbox.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

// Fulfilment end to end: one shop (API and workers) buying keys from a G2A simulator over real HTTP, the
// simulator pushing signed webhooks to the shop's real port, and everything observed through the API.

const WEBHOOK_SECRET = 'webhook-secret-of-the-e2e-test-0123456789';
/** A paid unit whose key is not ready after this is flagged and then polled only every 5 minutes. */
const KEY_WAIT_SECONDS = 1;

let simulator: G2ASimulator;
let simulatorUrl: string;
let shop: TestShop;
let shopUrl: string;
let http: ApiClient;
let admin: Headers;
let calls: G2ACallLog;
let games: Awaited<ReturnType<typeof gamesFor>>;
const mailer = new RecordingMailer();

beforeAll(async () => {
  simulator = createG2ASimulator({
    products: 30,
    seed: 11,
    ratePerMinute: 0,
    webhook: { secret: WEBHOOK_SECRET },
    ...SIMULATOR_DEV_CREDENTIALS,
  });
  simulatorUrl = await simulator.listen(0, '127.0.0.1');
  const products = stockedProducts(simulator, 7);
  calls = recordG2ACalls(simulator);
  shop = await startTestShop({
    mailer,
    env: {
      ...g2aEnv(simulatorUrl),
      G2A_WEBHOOK_SECRET: WEBHOOK_SECRET,
      FULFILMENT_KEY_WAIT_SECONDS: String(KEY_WAIT_SECONDS),
      AUTH_RATE_LIMIT_PER_IP: '10000',
    },
  });
  // A real port, for the simulator's webhook pushes.
  await shop.app!.listen({ port: 0, host: '127.0.0.1' });
  shopUrl = `http://127.0.0.1:${(shop.app!.server.address() as AddressInfo).port}`;
  http = new ApiClient(shop);
  admin = await http.admin();
  const run = await syncAndWait(shop, 'catalog', admin);
  expect(run.status).toBe('finished');
  games = await gamesFor(shop.db, products);
}, 60_000);

afterAll(async () => {
  await shop?.dispose();
  await simulator?.close();
});

afterEach(async () => {
  await simulatorControl('POST', '/__sim/faults', {
    orderFailure: 'none',
    keyDelayMs: 0,
    latencyMs: 0,
    errorRate: 0,
    webhookUrl: null,
  });
});

/** The simulator's control API, over real HTTP as a test harness or an operator would call it. */
async function simulatorControl(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${simulatorUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(response.status, `${method} ${path}`).toBe(200);
  return response.json();
}

interface SimOrder {
  orderId: string;
  productId: string;
  price: number;
  status: string;
  paid: boolean;
  keyDelivered: boolean;
}

const simOrders = async () =>
  ((await simulatorControl('GET', '/__sim/orders')) as { orders: SimOrder[] }).orders;

interface Customer {
  headers: Headers;
  userId: string;
  email: string;
}

async function customer(balanceCents: number): Promise<Customer> {
  const { headers, userId, email } = await http.registered();
  const topUp = await http.post(
    `/admin/users/${userId}/top-ups`,
    { amountCents: balanceCents, reference: `e2e-${randomUUID()}` },
    admin,
  );
  expect(topUp.statusCode, topUp.body).toBe(201);
  return { headers, userId, email };
}

async function meBalance(who: Customer): Promise<number> {
  const me = await http.get('/me', who.headers);
  expect(me.statusCode).toBe(200);
  return me.json().balanceCents;
}

async function checkout(who: Customer, items: { gameId: string; quantity: number }[]) {
  const response = await http.post('/orders', { items }, { ...who.headers, 'idempotency-key': randomUUID() });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string; status: string; totalCents: number };
}

async function orderOf(who: Customer, orderId: string) {
  const response = await http.get(`/orders/${orderId}`, who.headers);
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as {
    id: string;
    status: string;
    totalCents: number;
    refundedCents: number;
    items: { gameId: string; quantity: number; delivered: number; refunded: number; keys?: string[] }[];
  };
}

/** Polls `GET /orders/{id}` until the order reaches one of `statuses`. */
function orderReaches(who: Customer, orderId: string, statuses: string[], timeoutMs = 20_000) {
  return waitFor(
    async () => {
      const order = await orderOf(who, orderId);
      return statuses.includes(order.status) ? order : undefined;
    },
    `order ${orderId} to become ${statuses.join(' or ')}`,
    timeoutMs,
  );
}

const fulfilJobsOf = async (unitId: string) =>
  (await outboxJobs(shop.db, 'g2a.fulfil')).filter((job) => job.payload.unitId === unitId).length;

const webhookEvents = async (g2aOrderId: string) =>
  shop.db.selectFrom('g2a_webhook_events').selectAll().where('g2a_order_id', '=', g2aOrderId).execute();

function postWebhook(rawBody: string, headers: Record<string, string>) {
  return http.request({ method: 'POST', url: '/api/v1/webhooks/g2a', headers, payload: rawBody });
}

/** `keyshop_fulfilment_steps_total{step, outcome}` as `/metrics` shows it (0 before the first). */
async function stepCount(step: string, outcome: string): Promise<number> {
  const metrics = await shop.app!.inject({ method: 'GET', url: '/metrics' });
  const line = metrics.body
    .split('\n')
    .find((l) => l.startsWith(`keyshop_fulfilment_steps_total{step="${step}",outcome="${outcome}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('fulfilment over HTTP', () => {
  it('buys every unit at G2A: the order completes with one key per unit, readable by its owner only', async () => {
    const [first, second] = games;
    const createsBefore = calls.creates.length;
    const ordersBefore = new Set((await simOrders()).map((order) => order.orderId));
    const who = await customer(10_000_00);
    expect((await http.post('/cart/items', { gameId: first!.id, quantity: 3 }, who.headers)).statusCode).toBe(
      201,
    );
    expect(
      (await http.post('/cart/items', { gameId: second!.id, quantity: 1 }, who.headers)).statusCode,
    ).toBe(201);
    const placed = await http.post('/orders', {}, { ...who.headers, 'idempotency-key': randomUUID() });
    expect(placed.statusCode, placed.body).toBe(201);
    const orderId = placed.json().id as string;
    expect(placed.json().totalCents).toBe(3 * first!.price_cents + second!.price_cents);

    const done = await orderReaches(who, orderId, ['completed']);
    const keys = done.items.flatMap((item) => item.keys ?? []);
    expect(keys).toHaveLength(4);
    expect(new Set(keys).size).toBe(4);
    expect(done.items.find((item) => item.gameId === first!.id)).toMatchObject({ quantity: 3, delivered: 3 });
    expect(done.items.find((item) => item.gameId === second!.id)).toMatchObject({
      quantity: 1,
      delivered: 1,
    });
    expect(done.refundedCents).toBe(0);

    // Four G2A orders, all paid, one per unit, each unit showing the key G2A issued for its own order.
    const placedAtG2A = (await simOrders()).filter((order) => !ordersBefore.has(order.orderId));
    expect(placedAtG2A).toHaveLength(4);
    expect(placedAtG2A.every((order) => order.paid && order.status === 'complete')).toBe(true);
    const units = await unitRows(shop.db, [orderId]);
    expect(units.map((unit) => unit.state)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
    expect(new Set(units.map((unit) => unit.g2a_order_id))).toEqual(
      new Set(placedAtG2A.map((order) => order.orderId)),
    );
    const issued = units.map((unit) => simulator.state.findOrder(unit.g2a_order_id!)!.key!);
    expect(new Set(keys)).toEqual(new Set(issued));
    // Sealed at rest: no plaintext key in the row.
    for (const [index, unit] of units.entries()) {
      expect(unit.key_ciphertext).not.toBeNull();
      expect(unit.key_ciphertext!.toString('latin1')).not.toContain(issued[index]!);
    }
    // Each create asked for the unit's product at most at the cost recorded at checkout.
    const creates = calls.creates.slice(createsBefore);
    expect(creates).toHaveLength(4);
    for (const create of creates) {
      const game = games.find((g) => g.g2a_product_id === create.productId)!;
      expect(create.maxPrice).toBe(game.cost_cents / 100);
    }

    // Another user sees nothing of it; the list carries no keys.
    const stranger = await customer(100);
    const foreign = await http.get(`/orders/${orderId}`, stranger.headers);
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().code).toBe('ORDER_NOT_FOUND');
    const list = await http.get('/orders', who.headers);
    expect(list.statusCode).toBe(200);
    const listed = list.json().items.find((order: { id: string }) => order.id === orderId);
    expect(listed.status).toBe('completed');
    expect(JSON.stringify(list.json())).not.toContain(keys[0]!);
    for (const item of listed.items) expect(item.keys).toBeUndefined();

    const summary = await http.get('/admin/fulfilment', admin);
    expect(summary.statusCode).toBe(200);
    expect(summary.json().byState.delivered).toBeGreaterThanOrEqual(4);
    const delivered = (await unitRows(shop.db)).filter((unit) => unit.state === 'delivered').length;
    expect(summary.json().byState.delivered).toBe(delivered);

    const metrics = await shop.app!.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(new RegExp(`keyshop_order_units\\{state="delivered"\\} ${delivered}\\b`));
    expect(metrics.body).toMatch(
      /keyshop_fulfilment_steps_total\{step="fetch_key",outcome="delivered"\} \d+/,
    );
    expect(metrics.body).toMatch(/keyshop_g2a_calls_total\{endpoint="POST \/v1\/order",outcome="ok"\} \d+/);
    expect(metrics.body).toMatch(/keyshop_g2a_limiter_wait_seconds_count\{priority="fulfilment"\} \d+/);

    // One "keys ready" e-mail, once the order is settled; it links to the order and carries no key.
    const keysReady = () => mailer.sent.filter((m) => m.to === who.email && /keys are ready/.test(m.subject));
    const ready = await waitFor(
      () => (keysReady().length > 0 ? keysReady() : undefined),
      'the keys-ready e-mail',
    );
    expect(ready).toHaveLength(1);
    expect(ready![0]!.text).toContain(orderId);
    for (const key of keys) expect(ready![0]!.text).not.toContain(key);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });

  it.each<[SimulatedOrderFailure, string]>([
    ['out_of_stock', 'out_of_stock'],
    ['price_too_high', 'price_too_high'],
    ['payment', 'payment_refused'],
  ])(
    'G2A refusing with %s: the order is refunded, the balance restored, nothing paid at G2A',
    async (failure, reason) => {
      await simulatorControl('POST', '/__sim/faults', { orderFailure: failure });
      const game = games[2]!;
      const who = await customer(50_000);
      const paidBefore = (await simOrders()).filter((order) => order.paid).length;
      const ordersBefore = (await simOrders()).length;

      const placed = await checkout(who, [{ gameId: game.id, quantity: 2 }]);
      expect(await meBalance(who)).toBe(50_000 - 2 * game.price_cents);
      const refunded = await orderReaches(who, placed.id, ['refunded']);
      expect(refunded).toMatchObject({ refundedCents: 2 * game.price_cents });
      expect(refunded.items[0]).toMatchObject({ delivered: 0, refunded: 2, keys: [] });
      expect(await meBalance(who)).toBe(50_000);

      const ledger = (await http.get('/transactions', who.headers)).json().items as {
        type: string;
        amountCents: number;
        orderId: string | null;
      }[];
      expect(ledger.filter((entry) => entry.type === 'refund')).toEqual([
        expect.objectContaining({ amountCents: game.price_cents, orderId: placed.id }),
        expect.objectContaining({ amountCents: game.price_cents, orderId: placed.id }),
      ]);
      const units = await unitRows(shop.db, [placed.id]);
      expect(units.map((unit) => unit.state)).toEqual(['refunded', 'refunded']);
      for (const unit of units) expect(unit.failure_reason).toMatch(new RegExp(`^${reason}:`));
      expect((await simOrders()).filter((order) => order.paid).length).toBe(paidBefore);
      // A refused payment leaves its order unpaid at G2A; a refused create makes none.
      expect((await simOrders()).length).toBe(ordersBefore + (failure === 'payment' ? 2 : 0));
      expect(await refundEntries(shop.db, who.userId)).toBe(2);
      expect(await ledgerViolations(shop.db)).toEqual([]);
    },
  );

  it('one game G2A no longer sells, one it does: partially refunded, the rest delivered', async () => {
    const [sold, gone] = [games[0]!, games[6]!];
    // The shop still lists it in stock; G2A says otherwise when asked to sell it.
    simulator.state.updateProduct(gone.g2a_product_id, { qty: 0 });
    try {
      const who = await customer(100_000);
      const placed = await checkout(who, [
        { gameId: sold.id, quantity: 2 },
        { gameId: gone.id, quantity: 1 },
      ]);
      const settled = await orderReaches(who, placed.id, ['partially_refunded']);
      expect(settled.refundedCents).toBe(gone.price_cents);
      expect(settled.items.find((item) => item.gameId === sold.id)).toMatchObject({
        delivered: 2,
        refunded: 0,
      });
      expect(settled.items.find((item) => item.gameId === gone.id)).toMatchObject({
        delivered: 0,
        refunded: 1,
        keys: [],
      });
      expect(settled.items.find((item) => item.gameId === sold.id)!.keys).toHaveLength(2);
      expect(await meBalance(who)).toBe(100_000 - 2 * sold.price_cents);
      const units = await unitRows(shop.db, [placed.id]);
      expect(units.find((unit) => unit.g2a_product_id === gone.g2a_product_id)).toMatchObject({
        state: 'refunded',
        g2a_order_id: null,
        failure_reason: expect.stringMatching(/^out_of_stock:/),
      });
      expect(await ledgerViolations(shop.db)).toEqual([]);
    } finally {
      simulator.state.updateProduct(gone.g2a_product_id, { qty: 1000 });
    }
  });
});

describe('the G2A webhook', () => {
  /** A one-unit order whose key is late enough to be flagged (then polled every 5 min) and is ready now. */
  async function flaggedUnitWithKeyReady() {
    await simulatorControl('POST', '/__sim/faults', { keyDelayMs: 6_000 });
    const who = await customer(50_000);
    const placed = await checkout(who, [{ gameId: games[3]!.id, quantity: 1 }]);
    const [unit] = await waitFor(
      async () => {
        const units = await unitRows(shop.db, [placed.id]);
        return units[0]?.state === 'paid' && units[0].flagged_at !== null ? units : undefined;
      },
      'the unit to be paid and flagged, its key not ready after the key wait',
      15_000,
    );
    const g2aOrderId = unit!.g2a_order_id!;
    const summary = (await http.get('/admin/fulfilment', admin)).json();
    expect(summary.flagged).toContainEqual(
      expect.objectContaining({ unitId: unit!.id, g2aOrderId, state: 'paid' }),
    );
    expect(summary.oldestOpen).toMatchObject({ state: expect.any(String), ageSeconds: expect.any(Number) });
    expect((await orderOf(who, placed.id)).status).toBe('processing');
    expect((await orderOf(who, placed.id)).items[0]!.keys).toEqual([]);
    await waitFor(
      () => simulator.state.findOrder(g2aOrderId)!.keyReadyAt! <= Date.now(),
      'the key to be ready at G2A',
    );
    return { who, orderId: placed.id, unit: unit!, g2aOrderId };
  }

  it('refuses bad signatures, changed bodies and stale or future timestamps with 401 INVALID_SIGNATURE', async () => {
    const body = JSON.stringify({ eventId: randomUUID(), orderId: '80000000000001', status: 'complete' });
    const now = Math.floor(Date.now() / 1000);
    const good = webhookHeaders(WEBHOOK_SECRET, body, now);
    const attempts: [string, string, Record<string, string>][] = [
      ['wrong secret', body, webhookHeaders('another secret', body, now)],
      ['changed body', body.replace('complete', 'pending'), good],
      ['body re-encoded', JSON.stringify(JSON.parse(body), null, 1), good],
      ['six minutes old', body, webhookHeaders(WEBHOOK_SECRET, body, now - 360)],
      ['six minutes ahead', body, webhookHeaders(WEBHOOK_SECRET, body, now + 360)],
      ['signed timestamp changed', body, { ...good, 'x-g2a-timestamp': String(now - 1) }],
      ['no signature', body, { 'content-type': 'application/json', 'x-g2a-timestamp': String(now) }],
      [
        'no timestamp',
        body,
        { 'content-type': 'application/json', 'x-g2a-signature': good['x-g2a-signature']! },
      ],
      ['upper-case garbage', body, { ...good, 'x-g2a-signature': 'Z'.repeat(64) }],
    ];
    for (const [why, rawBody, headers] of attempts) {
      const response = await postWebhook(rawBody, headers);
      expect(response.statusCode, why).toBe(401);
      expect(response.json(), why).toMatchObject({ statusCode: 401, code: 'INVALID_SIGNATURE' });
    }
    expect(await webhookEvents('80000000000001')).toEqual([]);
    // Inside the window it is fine.
    const fresh = await postWebhook(body, webhookHeaders(WEBHOOK_SECRET, body, now - 240));
    expect(fresh.statusCode).toBe(202);
    expect(fresh.json()).toEqual({ status: 'early' });
  });

  it('a signed event hurries its unit along once; a replayed event id is a duplicate with no second effect', async () => {
    const { who, orderId, unit, g2aOrderId } = await flaggedUnitWithKeyReady();
    const jobsBefore = await fulfilJobsOf(unit.id);
    const body = JSON.stringify({ eventId: randomUUID(), orderId: g2aOrderId, status: 'complete' });

    const accepted = await postWebhook(body, webhookHeaders(WEBHOOK_SECRET, body));
    expect(accepted.statusCode).toBe(202);
    expect(accepted.json()).toEqual({ status: 'accepted' });
    // Flagged, the unit's next poll was minutes away: only the webhook brings it on now.
    const done = await orderReaches(who, orderId, ['completed'], 10_000);
    expect(done.items[0]!.keys).toEqual([simulator.state.findOrder(g2aOrderId)!.key]);

    for (let replay = 0; replay < 3; replay++) {
      const duplicate = await postWebhook(body, webhookHeaders(WEBHOOK_SECRET, body));
      expect(duplicate.statusCode).toBe(202);
      expect(duplicate.json()).toEqual({ status: 'duplicate' });
    }
    expect(await fulfilJobsOf(unit.id)).toBe(jobsBefore + 1);
    const events = await webhookEvents(g2aOrderId);
    expect(events).toHaveLength(1);
    expect(events[0]!.applied_at).not.toBeNull();
    // The key in a webhook body is never taken: the unit keeps the key G2A's key endpoint gave.
    const forged = JSON.stringify({
      eventId: randomUUID(),
      orderId: g2aOrderId,
      status: 'complete',
      key: 'FORGED-KEY',
    });
    expect((await postWebhook(forged, webhookHeaders(WEBHOOK_SECRET, forged))).json()).toEqual({
      status: 'accepted',
    });
    expect((await orderOf(who, orderId)).items[0]!.keys).toEqual([
      simulator.state.findOrder(g2aOrderId)!.key,
    ]);
  });

  it('an event for a G2A order the shop has not recorded yet is kept and applied when the unit records it', async () => {
    // The create is held at G2A (processed, answer delayed): the order exists there before the shop knows it.
    await simulatorControl('POST', '/__sim/faults', { latencyMs: 1_500 });
    const before = new Set((await simOrders()).map((order) => order.orderId));
    const who = await customer(50_000);
    const placed = await checkout(who, [{ gameId: games[4]!.id, quantity: 1 }]);
    const created = await waitFor(
      async () => (await simOrders()).find((order) => !before.has(order.orderId)),
      'G2A to have made the order',
    );
    expect(await unitRows(shop.db, [placed.id])).toEqual([expect.objectContaining({ g2a_order_id: null })]);
    const body = JSON.stringify({ eventId: randomUUID(), orderId: created.orderId, status: 'new' });
    const early = await postWebhook(body, webhookHeaders(WEBHOOK_SECRET, body));
    expect(early.json()).toEqual({ status: 'early' });
    expect((await webhookEvents(created.orderId))[0]!.applied_at).toBeNull();

    await orderReaches(who, placed.id, ['completed']);
    const [unit] = await unitRows(shop.db, [placed.id]);
    expect(unit!.g2a_order_id).toBe(created.orderId);
    expect((await webhookEvents(created.orderId))[0]!.applied_at).not.toBeNull();
  });

  it('the simulator’s own signed pushes reach the shop and deliver a flagged unit without waiting for its poll', async () => {
    await simulatorControl('POST', '/__sim/faults', { webhookUrl: `${shopUrl}/api/v1/webhooks/g2a` });
    await simulatorControl('POST', '/__sim/faults', { keyDelayMs: 6_000 });
    const who = await customer(50_000);
    const placed = await checkout(who, [{ gameId: games[5]!.id, quantity: 2 }]);
    const flagged = await waitFor(
      async () => {
        const units = await unitRows(shop.db, [placed.id]);
        return units.every((unit) => unit.state === 'paid' && unit.flagged_at !== null) ? units : undefined;
      },
      'both units paid and flagged',
      15_000,
    );
    const done = await orderReaches(who, placed.id, ['completed'], 15_000);
    expect(done.items[0]!.keys).toHaveLength(2);
    for (const unit of flagged) {
      const events = await webhookEvents(unit.g2a_order_id!);
      expect(events, `the push for ${unit.g2a_order_id}`).toEqual([
        expect.objectContaining({ status: 'complete', applied_at: expect.any(Date) }),
      ]);
    }
    const pushedTo = (await simOrders()).filter((order) =>
      flagged.some((unit) => unit.g2a_order_id === order.orderId),
    );
    expect(pushedTo.every((order) => order.keyDelivered)).toBe(true);
    expect(await balanceOf(shop.db, who.userId)).toBe(50_000 - 2 * games[5]!.price_cents);
    const summary = (await http.get('/admin/fulfilment', admin)).json();
    expect(summary.flagged.filter((f: { orderId: string }) => f.orderId === placed.id)).toEqual([]);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });
});

describe('an administrator refunding an order on its way', () => {
  it('before its G2A order is recorded: that order is never paid', async () => {
    await simulatorControl('POST', '/__sim/faults', { latencyMs: 1_500 });
    const game = games[1]!;
    const who = await customer(50_000);
    const before = new Set((await simOrders()).map((order) => order.orderId));
    const closedBefore = await stepCount('create', 'closed');
    const placed = await checkout(who, [{ gameId: game.id, quantity: 1 }]);
    const created = await waitFor(
      async () => (await simOrders()).find((order) => !before.has(order.orderId)),
      'G2A to have made the order, its answer held',
    );
    const refund = await http.post(`/admin/orders/${placed.id}/refund`, {}, admin);
    expect(refund.statusCode, refund.body).toBe(200);
    expect(refund.json()).toMatchObject({
      status: 'refunded',
      refundedCents: game.price_cents,
      userId: who.userId,
    });
    expect(await meBalance(who)).toBe(50_000);
    // The create's answer reaches a refunded unit: the worker drops the G2A order.
    await waitFor(
      async () => (await stepCount('create', 'closed')) > closedBefore,
      'the create step to close on the refunded unit',
    );
    expect(simulator.state.findOrder(created.orderId)!.paid).toBe(false);
    expect(calls.pays.get(created.orderId)).toBeUndefined();
    expect(await unitRows(shop.db, [placed.id])).toEqual([expect.objectContaining({ state: 'refunded' })]);
    expect((await orderOf(who, placed.id)).items[0]!.keys).toEqual([]);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });

  it('after G2A took the payment: the key is still fetched and kept sealed, never shown', async () => {
    await simulatorControl('POST', '/__sim/faults', { latencyMs: 1_000 });
    const game = games[1]!;
    const who = await customer(50_000);
    const placed = await checkout(who, [{ gameId: game.id, quantity: 1 }]);
    const [unit] = await waitFor(async () => {
      const units = await unitRows(shop.db, [placed.id]);
      const g2aOrderId = units[0]?.g2a_order_id;
      return units[0]?.state === 'ordered' && g2aOrderId && simulator.state.findOrder(g2aOrderId)?.paid
        ? units
        : undefined;
    }, 'G2A to have taken the payment, its answer held');
    const refund = await http.post(`/admin/orders/${placed.id}/refund`, {}, admin);
    expect(refund.statusCode, refund.body).toBe(200);
    expect(refund.json()).toMatchObject({ status: 'refunded', refundedCents: game.price_cents });
    const [sealed] = await waitFor(async () => {
      const units = await unitRows(shop.db, [placed.id]);
      return units[0]?.key_ciphertext ? units : undefined;
    }, 'the key of the refunded unit to be fetched and stored');
    expect(sealed).toMatchObject({ state: 'refunded', g2a_order_id: unit!.g2a_order_id });
    expect(simulator.state.findOrder(unit!.g2a_order_id!)!.keyDelivered).toBe(true);
    const view = await orderOf(who, placed.id);
    expect(view).toMatchObject({ status: 'refunded', refundedCents: game.price_cents });
    expect(view.items[0]!.keys).toEqual([]);
    expect(await meBalance(who)).toBe(50_000);
    expect(calls.pays.get(unit!.g2a_order_id!)).toBe(1);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });

  it('a delivered order: `{}` refunds nothing, `{all: true}` everything, and its keys are no longer shown', async () => {
    const game = games[2]!;
    const who = await customer(50_000);
    const placed = await checkout(who, [{ gameId: game.id, quantity: 2 }]);
    expect((await orderReaches(who, placed.id, ['completed'])).items[0]!.keys).toHaveLength(2);
    const nothing = await http.post(`/admin/orders/${placed.id}/refund`, {}, admin);
    expect(nothing.statusCode).toBe(200);
    expect(nothing.json()).toMatchObject({ status: 'completed', refundedCents: 0 });
    const all = await http.post(`/admin/orders/${placed.id}/refund`, { all: true }, admin);
    expect(all.json()).toMatchObject({ status: 'refunded', refundedCents: 2 * game.price_cents });
    expect((await orderOf(who, placed.id)).items[0]).toMatchObject({ refunded: 2, delivered: 0, keys: [] });
    expect(await meBalance(who)).toBe(50_000);
    expect(await ledgerViolations(shop.db)).toEqual([]);
  });
});

describe('GET /admin/fulfilment', () => {
  it('is for administrators only', async () => {
    const who = await customer(100);
    expect((await http.get('/admin/fulfilment', who.headers)).statusCode).toBe(403);
    expect((await http.get('/admin/fulfilment')).statusCode).toBe(401);
    const summary = (await http.get('/admin/fulfilment', admin)).json();
    const counts = await sql<{ state: string; n: number }>`
      SELECT state, count(*)::int AS n FROM order_units GROUP BY state`.execute(shop.db);
    for (const row of counts.rows) expect(summary.byState[row.state]).toBe(row.n);
  });
});
