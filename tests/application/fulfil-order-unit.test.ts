import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { UndiciG2AClient } from '../../src/adapters/g2a/undici-g2a-client.js';
import { getFulfilmentSummary } from '../../src/application/get-fulfilment-summary.js';
import { getOrder } from '../../src/application/get-order.js';
import { G2AError } from '../../src/ports/g2a.js';
import { reconcileFulfilment } from '../../src/application/reconcile-fulfilment.js';
import { refundOrder } from '../../src/application/refund-order.js';
import type { FulfilOrderUnitDeps } from '../../src/application/fulfil-order-unit.js';
import { FLAGGED_RETRY_DELAY_MS } from '../../src/domain/fulfilment.js';
import type { G2A } from '../../src/ports/g2a.js';
import { deferred } from '../support/deferred.js';
import {
  buy,
  fulfil,
  fulfilMessages,
  fulfilmentDeps,
  productDispenser,
  refundEntriesOf,
  simulatorClient,
  startClockedSimulator,
  TEST_SETTINGS,
  unitRow,
  wrapG2A,
  type ClockedSimulator,
} from '../support/g2a-purchase.js';
import { startGround, type Ground } from '../support/ground.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { balanceOf } from '../support/wallet.js';

let ground: Ground;
let sim: ClockedSimulator;
let g2a: UndiciG2AClient;
let nextProduct: ReturnType<typeof productDispenser>;
const clients: UndiciG2AClient[] = [];

beforeAll(async () => {
  ground = await startGround();
  sim = await startClockedSimulator(ground);
  g2a = simulatorClient(sim);
  nextProduct = productDispenser(sim);
});
afterAll(async () => {
  for (const client of [g2a, ...clients]) await client?.close();
  await sim?.close();
  await ground?.dispose();
});
beforeEach(async () => {
  sim.state.reset();
  sim.createBodies.length = 0;
  sim.createAnswerReplacedBy = null;
  await ground.clearOutbox();
});

const deps = (overrides: Partial<FulfilOrderUnitDeps> = {}) => fulfilmentDeps(ground, g2a, overrides);
/** A client of its own (closed after the file), e.g. with a short timeout. */
const client = (options: Parameters<typeof simulatorClient>[1]) => {
  const made = simulatorClient(sim, options);
  clients.push(made);
  return made;
};
const storedOrder = async (orderId: string) => (await ground.readers.orders.findById(orderId))!;
const readOrder = (userId: string, orderId: string) =>
  getOrder(
    {
      orders: ground.readers.orders,
      cache: ground.cache,
      fulfilment: ground.readers.fulfilment,
      vault: ground.vault,
    },
    { userId, orderId },
  );
const reconcile = () => reconcileFulfilment({ uow: ground.uow, clock: ground.clock, logger: ground.logger });
const summary = () => getFulfilmentSummary({ fulfilment: ground.readers.fulfilment, clock: ground.clock });
const refund = (orderId: string) =>
  refundOrder({ uow: ground.uow, logger: ground.logger }, { orderId, all: false });
const simOrdersOf = (productId: string) =>
  sim.state.listOrders().filter((order) => order.productId === productId);
const routeCount = (route: string) => sim.state.stats.byRoute[route] ?? 0;
const PAY_ROUTE = 'PUT /v1/order/pay/:id';
const KEY_ROUTE = 'GET /v1/order/key/:id';
const logsOf = (unitId: string) => ground.logger.entries.filter((entry) => entry.fields.unitId === unitId);
/** Moves the shop's (and the simulator's) clock to `at`. */
const moveClockTo = (at: Date) => ground.clock.set(at);
/** Brings the ground's clock up to the database's: units inserted with `now()` are due at the clock. */
function catchUpClock() {
  const real = Date.now() + 1_000;
  if (ground.clock.now().getTime() < real) ground.clock.set(new Date(real));
}

/** Switches a simulator fault on for the duration of one call. */
function withFault<T>(
  faults: Parameters<ClockedSimulator['state']['setFaults']>[0],
  call: () => Promise<T>,
): Promise<T> {
  sim.state.setFaults(faults);
  return call().finally(() => sim.state.setFaults({ latencyMs: 0, errorRate: 0 }));
}

/** A G2A whose `payOrder` is answered 5xx before the simulator processes it: the unit stays `ordered`. */
const payRefusedOnce = (): G2A =>
  wrapG2A(g2a, { payOrder: (orderId) => withFault({ errorRate: 1 }, () => g2a.payOrder(orderId)) });

/** A G2A that holds `method` before it leaves, until `release` is called; `entered` settles once it waits. */
function gated(method: 'createOrder' | 'payOrder' | 'getOrderKey') {
  const entered = deferred();
  const gate = deferred();
  const wrapped = wrapG2A(g2a, {
    [method]: async (...args: never[]) => {
      entered.resolve();
      await gate.promise;
      return (g2a[method] as (...values: never[]) => Promise<unknown>).apply(g2a, args);
    },
  });
  return { g2a: wrapped, entered: entered.promise, release: () => gate.resolve() };
}

describe('fulfilOrderUnit: the happy path', () => {
  it('buys every unit at G2A once, with max_price = the recorded cost, seals and delivers the keys, completes the order', async () => {
    const [alpha, beta] = [nextProduct(), nextProduct()];
    const bought = await buy(ground, [alpha, beta], [2, 1]);
    const worker = deps();

    expect(await fulfil(worker, bought.units[0]!)).toBe('delivered');
    expect((await storedOrder(bought.orderId)).status).toBe('processing');
    expect(await fulfil(worker, bought.units[1]!)).toBe('delivered');
    expect((await storedOrder(bought.orderId)).status).toBe('processing');
    expect(await fulfil(worker, bought.units[2]!)).toBe('delivered');
    expect((await storedOrder(bought.orderId)).status).toBe('completed');

    // One G2A order per unit, each paid once, each asked for at most the cost recorded at checkout (EUR).
    const orders = sim.state.listOrders();
    expect(orders.map((o) => o.productId).sort()).toEqual([alpha.id, alpha.id, beta.id].sort());
    expect(orders.every((o) => o.paid && o.keyDelivered)).toBe(true);
    expect(routeCount(PAY_ROUTE)).toBe(3);
    expect(sim.createBodies).toEqual([
      { product_id: alpha.id, max_price: bought.costCents[0]! / 100, currency: 'EUR' },
      { product_id: alpha.id, max_price: bought.costCents[0]! / 100, currency: 'EUR' },
      { product_id: beta.id, max_price: bought.costCents[1]! / 100, currency: 'EUR' },
    ]);
    expect(sim.createBodies.map((body) => body.max_price)).toEqual([
      alpha.minPrice,
      alpha.minPrice,
      beta.minPrice,
    ]);

    const rows = await Promise.all(bought.units.map((unitId) => unitRow(ground, unitId)));
    const keyOf = (g2aOrderId: string | null) => sim.state.findOrder(g2aOrderId!)!.key!;
    const currentKeyId = ground.vault.seal('probe', 'probe').keyId;
    for (const [index, row] of rows.entries()) {
      const key = keyOf(row.g2a_order_id);
      expect(row).toMatchObject({
        state: 'delivered',
        key_key_id: currentKeyId,
        lease_owner: null,
        lease_until: null,
        flagged_at: null,
        failure_reason: null,
      });
      expect(Number(row.g2a_price_cents)).toBe(bought.costCents[index < 2 ? 0 : 1]);
      expect(row.paid_at).not.toBeNull();
      expect(row.delivered_at).not.toBeNull();
      // Sealed: the stored bytes are not the key, and open only for their own unit.
      expect(row.key_ciphertext!.includes(Buffer.from(key))).toBe(false);
      expect(row.key_ciphertext!.toString('utf8')).not.toBe(key);
      expect(row.key_iv!.length).toBe(12);
      const sealed = {
        ciphertext: row.key_ciphertext!,
        iv: row.key_iv!,
        authTag: row.key_auth_tag!,
        keyId: row.key_key_id!,
      };
      expect(ground.vault.open(sealed, row.id)).toBe(key);
      expect(() => ground.vault.open(sealed, rows[(index + 1) % rows.length]!.id)).toThrow();
    }
    expect(new Set(rows.map((row) => row.key_iv!.toString('hex'))).size).toBe(3);
    expect(new Set(rows.map((row) => row.g2a_order_id)).size).toBe(3);

    const view = await readOrder(bought.userId, bought.orderId);
    expect(view.status).toBe('completed');
    expect(view.items.map((item) => [...item.keys!].sort())).toEqual([
      [keyOf(rows[0]!.g2a_order_id), keyOf(rows[1]!.g2a_order_id)].sort(),
      [keyOf(rows[2]!.g2a_order_id)],
    ]);
    // Only the owner reads the order, keys and all.
    await expect(readOrder(await ground.newUser(), bought.orderId)).rejects.toMatchObject({
      code: 'ORDER_NOT_FOUND',
    });
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });

  it('stores a key once: a second store through the repository, a raw UPDATE or another fulfil changes nothing', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    expect(await fulfil(deps(), unitId)).toBe('delivered');
    const before = await unitRow(ground, unitId);
    const keyCalls = routeCount(KEY_ROUTE);

    const other = ground.vault.seal('OTHER-OTHER-OTHER', unitId);
    const outcome = await ground.uow.run((scope) =>
      scope.fulfilment.storeKey(unitId, other, ground.clock.now()),
    );
    expect(outcome).toBe('kept');
    await expect(
      sql`UPDATE order_units SET key_ciphertext = ${other.ciphertext}, key_iv = ${other.iv},
            key_auth_tag = ${other.authTag} WHERE id = ${unitId}`.execute(ground.db),
    ).rejects.toThrow(/already stored/);
    await expect(
      sql`UPDATE order_units SET key_ciphertext = NULL, key_iv = NULL, key_auth_tag = NULL, key_key_id = NULL
          WHERE id = ${unitId}`.execute(ground.db),
    ).rejects.toThrow(/already stored/);

    expect(await fulfil(deps(), unitId)).toBe('closed');
    expect(routeCount(KEY_ROUTE)).toBe(keyCalls);
    const after = await unitRow(ground, unitId);
    expect(after.key_ciphertext).toEqual(before.key_ciphertext);
    expect(after.key_iv).toEqual(before.key_iv);
    expect(after.delivered_at).toEqual(before.delivered_at);
    const view = await readOrder(bought.userId, bought.orderId);
    expect(view.items[0]!.keys).toEqual([sim.state.findOrder(before.g2a_order_id!)!.key]);
  });
});

describe('fulfilOrderUnit: G2A refuses the unit for good', () => {
  it.each([
    ['out_of_stock', 'out_of_stock', 0],
    ['price_too_high', 'price_too_high', 0],
    ['payment', 'payment_refused', 1],
  ] as const)(
    'orderFailure %s: the unit is refunded once (reason %s), nothing is paid at G2A',
    async (failure, reason, unpaidOrders) => {
      const [kept, refused, alone] = [nextProduct(), nextProduct(), nextProduct()];
      const mixed = await buy(ground, [kept, refused]);
      const single = await buy(ground, [alone]);
      const singleFunded = await balanceOf(ground, single.userId);
      expect(await fulfil(deps(), mixed.units[0]!)).toBe('delivered');

      sim.state.setFaults({ orderFailure: failure });
      expect(await fulfil(deps(), mixed.units[1]!)).toBe('refunded');
      expect(await fulfil(deps(), single.units[0]!)).toBe('refunded');

      for (const [purchase, unitId, price] of [
        [mixed, mixed.units[1]!, mixed.priceCents[1]!],
        [single, single.units[0]!, single.priceCents[0]!],
      ] as const) {
        expect(await refundEntriesOf(ground, unitId)).toEqual([
          { amount_cents: price, order_id: purchase.orderId, user_id: purchase.userId },
        ]);
        const row = await unitRow(ground, unitId);
        expect(row.state).toBe('refunded');
        expect(row.failure_reason).toMatch(new RegExp(`^${reason}: `));
        expect(row.lease_owner).toBeNull();
      }
      for (const product of [refused, alone]) {
        const orders = simOrdersOf(product.id);
        expect(orders).toHaveLength(unpaidOrders);
        expect(orders.some((o) => o.paid)).toBe(false);
      }
      expect((await storedOrder(mixed.orderId)).status).toBe('partially_refunded');
      expect((await storedOrder(single.orderId)).status).toBe('refunded');
      expect(await balanceOf(ground, single.userId)).toBe(singleFunded + single.priceCents[0]!);

      // Done is done: another attempt neither calls G2A nor refunds again.
      const requests = sim.state.stats.requests;
      expect(await fulfil(deps(), single.units[0]!)).toBe('closed');
      expect(sim.state.stats.requests).toBe(requests);
      expect(await refundEntriesOf(ground, single.units[0]!)).toHaveLength(1);
      const view = await readOrder(mixed.userId, mixed.orderId);
      expect(view).toMatchObject({ status: 'partially_refunded', refundedCents: mixed.priceCents[1] });
      expect(view.items.map((item) => item.keys!.length)).toEqual([1, 0]);
      expect(await ledgerViolations(ground.db)).toEqual([]);
    },
  );

  it('a G2A price above the cost recorded at checkout is refused by max_price and refunded', async () => {
    const product = nextProduct();
    const bought = await buy(ground, [product]);
    const raised = await fetch(`${sim.url}/__sim/products/${product.id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ minPrice: product.minPrice + 0.01 }),
    });
    expect(raised.status).toBe(200);

    expect(await fulfil(deps(), bought.units[0]!)).toBe('refunded');
    expect(sim.createBodies).toEqual([
      { product_id: product.id, max_price: product.minPrice, currency: 'EUR' },
    ]);
    expect(sim.state.listOrders()).toEqual([]);
    expect((await unitRow(ground, bought.units[0]!)).failure_reason).toMatch(/^price_too_high: /);
    expect(await refundEntriesOf(ground, bought.units[0]!)).toHaveLength(1);
    expect((await storedOrder(bought.orderId)).status).toBe('refunded');
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });

  it('a G2A price below the recorded cost is bought at that price (and recorded)', async () => {
    const product = nextProduct();
    const bought = await buy(ground, [product]);
    sim.state.updateProduct(product.id, { minPrice: product.minPrice - 0.2 });
    expect(await fulfil(deps(), bought.units[0]!)).toBe('delivered');
    expect(Number((await unitRow(ground, bought.units[0]!)).g2a_price_cents)).toBe(bought.costCents[0]! - 20);
  });

  it('a product G2A no longer knows is refunded as product_unknown', async () => {
    const product = nextProduct();
    const bought = await buy(ground, [product]);
    sim.state.removeProduct(product.id);
    expect(await fulfil(deps(), bought.units[0]!)).toBe('refunded');
    expect((await unitRow(ground, bought.units[0]!)).failure_reason).toMatch(/^product_unknown: /);
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });
});

describe('fulfilOrderUnit: waiting on G2A', () => {
  it('a key not ready yet: waiting, with the next attempt on the unit and a delayed g2a.fulfil message; then delivered', async () => {
    sim.state.setFaults({ keyDelayMs: 12_000 });
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    await ground.clearOutbox();
    const paidAt = ground.clock.now();

    const outcomes: string[] = [];
    const delays: number[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const before = ground.clock.now().getTime();
      const outcome = await fulfil(deps(), unitId);
      outcomes.push(outcome);
      if (outcome !== 'waiting') break;
      const row = await unitRow(ground, unitId);
      expect(row).toMatchObject({ state: 'paid', lease_owner: null, flagged_at: null });
      expect(row.last_error).toMatch(/not processed yet/);
      delays.push(row.next_attempt_at.getTime() - before);
      const messages = await fulfilMessages(ground);
      expect(messages.at(-1)).toEqual({ unitId, startAfter: row.next_attempt_at });
      moveClockTo(row.next_attempt_at);
    }
    expect(outcomes).toEqual(['waiting', 'waiting', 'waiting', 'waiting', 'delivered']);
    expect(delays).toEqual([1_000, 2_000, 5_000, 10_000]);
    expect(ground.clock.now().getTime() - paidAt.getTime()).toBeGreaterThanOrEqual(12_000);
    expect(sim.state.listOrders()).toMatchObject([{ paid: true, keyDelivered: true }]);
    expect(routeCount(PAY_ROUTE)).toBe(1);
    expect((await fulfilMessages(ground)).every((message) => message.unitId === unitId)).toBe(true);
    expect((await storedOrder(bought.orderId)).status).toBe('completed');
  });

  it('a key still not ready after keyWaitMs: the unit is flagged (summary) and still polled until delivered', async () => {
    sim.state.setFaults({ keyDelayMs: 3_600_000 });
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const worker = () => deps({ settings: { ...TEST_SETTINGS, keyWaitMs: 60_000 } });

    expect(await fulfil(worker(), unitId)).toBe('waiting');
    expect((await unitRow(ground, unitId)).flagged_at).toBeNull();
    expect((await summary()).flagged.map((unit) => unit.unitId)).not.toContain(unitId);

    ground.clock.advance(61_000);
    const flaggedAt = ground.clock.now();
    expect(await fulfil(worker(), unitId)).toBe('waiting');
    const flagged = await unitRow(ground, unitId);
    expect(flagged).toMatchObject({ state: 'paid', flagged_at: flaggedAt });
    expect(flagged.flag_reason).toMatch(/key is not ready 1 minutes after payment/);
    expect(flagged.next_attempt_at).toEqual(new Date(flaggedAt.getTime() + FLAGGED_RETRY_DELAY_MS));
    expect((await summary()).flagged).toContainEqual({
      unitId,
      orderId: bought.orderId,
      g2aOrderId: flagged.g2a_order_id,
      state: 'paid',
      reason: flagged.flag_reason,
      flaggedAt,
    });
    expect(logsOf(unitId).filter((entry) => entry.fields.outcome === 'flagged')).toHaveLength(1);

    // Still polled: handed back when due, asked again, the flag kept from the first time.
    await ground.clearOutbox();
    await reconcile();
    expect((await fulfilMessages(ground)).map((m) => m.unitId)).not.toContain(unitId);
    moveClockTo(flagged.next_attempt_at);
    await reconcile();
    expect((await fulfilMessages(ground)).map((m) => m.unitId)).toContain(unitId);
    const keyCalls = routeCount(KEY_ROUTE);
    expect(await fulfil(worker(), unitId)).toBe('waiting');
    expect(routeCount(KEY_ROUTE)).toBe(keyCalls + 1);
    expect((await unitRow(ground, unitId)).flagged_at).toEqual(flaggedAt);
    expect(logsOf(unitId).filter((entry) => entry.fields.outcome === 'flagged')).toHaveLength(1);

    ground.clock.advance(3_600_000);
    expect(await fulfil(worker(), unitId)).toBe('delivered');
    expect((await summary()).flagged.map((unit) => unit.unitId)).not.toContain(unitId);
    expect((await storedOrder(bought.orderId)).status).toBe('completed');
  });

  it('a create that timed out after G2A made the order: no second order until the reservation lapsed, then one', async () => {
    const slow = client({ timeoutMs: 150 });
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const started = ground.clock.now();
    const lapses = new Date(started.getTime() + TEST_SETTINGS.orderReservationMs);

    sim.state.setFaults({ latencyMs: 600 });
    expect(await fulfil(deps({ g2a: slow }), unitId)).toBe('waiting');
    expect(sim.state.listOrders()).toHaveLength(1);
    expect(await unitRow(ground, unitId)).toMatchObject({
      state: 'pending',
      g2a_order_id: null,
      create_started_at: started,
      next_attempt_at: lapses,
      lease_owner: null,
    });
    expect((await fulfilMessages(ground)).at(-1)).toEqual({ unitId, startAfter: lapses });
    sim.state.setFaults({ latencyMs: 0 });

    // Any attempt before the lapse (a webhook, a reconciliation, a redelivered message) orders nothing.
    expect(await fulfil(deps(), unitId)).toBe('waiting');
    ground.clock.advance(TEST_SETTINGS.orderReservationMs - 1);
    expect(await fulfil(deps(), unitId)).toBe('waiting');
    expect(sim.state.listOrders()).toHaveLength(1);
    expect(sim.createBodies).toHaveLength(1);
    expect((await unitRow(ground, unitId)).next_attempt_at).toEqual(lapses);

    ground.clock.advance(1);
    expect(await fulfil(deps(), unitId)).toBe('delivered');
    const orders = sim.state.listOrders();
    expect(orders).toHaveLength(2);
    expect(orders.map((o) => o.paid)).toEqual([false, true]);
    expect((await unitRow(ground, unitId)).g2a_order_id).toBe(orders[1]!.orderId);
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });

  it('a create that never left (connection refused) is tried again without waiting for a lapse', async () => {
    const closed = await startClockedSimulator(ground);
    const unreachable = simulatorClient(closed);
    clients.push(unreachable);
    await closed.close();
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;

    expect(await fulfil(deps({ g2a: unreachable }), unitId)).toBe('waiting');
    const row = await unitRow(ground, unitId);
    expect(row).toMatchObject({ state: 'pending', create_started_at: null, attempts: 1 });
    expect(row.next_attempt_at).toEqual(new Date(ground.clock.now().getTime() + 1_000));
    ground.clock.advance(1_000);
    expect(await fulfil(deps(), unitId)).toBe('delivered');
    expect(sim.state.listOrders()).toHaveLength(1);
  });

  it("G2A refusing the shop's credentials flags the unit at once and orders nothing", async () => {
    const wrong = client({ apiSecret: 'not-the-secret' });
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    expect(await fulfil(deps({ g2a: wrong }), unitId)).toBe('waiting');
    const row = await unitRow(ground, unitId);
    expect(row).toMatchObject({ state: 'pending', create_started_at: null });
    expect(row.flag_reason).toMatch(/credentials/);
    expect(sim.state.listOrders()).toEqual([]);
  });

  it('a pay that timed out after G2A processed it is settled by the order details: no second pay, delivered', async () => {
    const fast = client({ timeoutMs: 150 });
    const g = wrapG2A(fast, {
      payOrder: (orderId) => withFault({ latencyMs: 600 }, () => fast.payOrder(orderId)),
    });
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;

    expect(await fulfil(deps({ g2a: g }), unitId)).toBe('delivered');
    expect(routeCount(PAY_ROUTE)).toBe(1);
    expect(routeCount('GET /v1/order/details/:id')).toBe(1);
    expect(sim.state.listOrders()).toMatchObject([{ paid: true, keyDelivered: true }]);
    expect(logsOf(unitId).some((entry) => entry.fields.outcome === 'paid_after_all')).toBe(true);
    expect((await unitRow(ground, unitId)).state).toBe('delivered');
  });

  it('a pay G2A did not process (a 5xx, the order still new) waits and is paid on the next attempt', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    expect(await fulfil(deps({ g2a: payRefusedOnce() }), unitId)).toBe('waiting');
    expect(await unitRow(ground, unitId)).toMatchObject({ state: 'ordered', attempts: 1 });
    expect(sim.state.listOrders()).toMatchObject([{ paid: false }]);

    ground.clock.advance(1_000);
    expect(await fulfil(deps(), unitId)).toBe('delivered');
    expect(routeCount(PAY_ROUTE)).toBe(2);
    expect(sim.state.listOrders()).toMatchObject([{ paid: true }]);
  });
  it('starts the backoff short again once a step is done: a key poll after three failed payments waits 1 s', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const delays: number[] = [];
    for (let failure = 0; failure < 3; failure++) {
      const before = ground.clock.now().getTime();
      expect(await fulfil(deps({ g2a: payRefusedOnce() }), unitId)).toBe('waiting');
      const row = await unitRow(ground, unitId);
      delays.push(row.next_attempt_at.getTime() - before);
      moveClockTo(row.next_attempt_at);
    }
    expect(delays).toEqual([1_000, 2_000, 5_000]);
    expect(await unitRow(ground, unitId)).toMatchObject({ state: 'ordered', attempts: 3 });

    sim.state.setFaults({ keyDelayMs: 60_000 });
    const before = ground.clock.now().getTime();
    expect(await fulfil(deps(), unitId)).toBe('waiting');
    const row = await unitRow(ground, unitId);
    expect(row).toMatchObject({ state: 'paid', attempts: 1 });
    expect(row.next_attempt_at.getTime() - before).toBe(1_000);
  });
});

describe('fulfilOrderUnit: admin refunds', () => {
  it('a unit refunded while ordered (G2A order made, not paid) is never paid', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    expect(await fulfil(deps({ g2a: payRefusedOnce() }), unitId)).toBe('waiting');
    expect((await unitRow(ground, unitId)).state).toBe('ordered');

    expect((await refund(bought.orderId)).status).toBe('refunded');
    ground.clock.advance(1_000);
    catchUpClock();
    expect(await fulfil(deps(), unitId)).toBe('closed');
    await ground.clearOutbox();
    await reconcile();
    expect((await fulfilMessages(ground)).map((m) => m.unitId)).not.toContain(unitId);

    expect(sim.state.listOrders()).toMatchObject([{ paid: false }]);
    expect(routeCount(PAY_ROUTE)).toBe(1); // the refused one
    expect(await refundEntriesOf(ground, unitId)).toHaveLength(1);
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });

  it('a unit refunded while its worker waits on G2A for the key: the key is stored sealed, never shown', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const held = gated('getOrderKey');
    const working = fulfil(deps({ g2a: held.g2a }), unitId);
    await held.entered;
    expect((await unitRow(ground, unitId)).state).toBe('paid');

    expect((await refund(bought.orderId)).status).toBe('refunded');
    held.release();
    expect(await working).toBe('closed');

    const row = await unitRow(ground, unitId);
    expect(row.state).toBe('refunded');
    expect(row.key_ciphertext).not.toBeNull();
    const key = sim.state.findOrder(row.g2a_order_id!)!.key!;
    expect(
      ground.vault.open(
        {
          ciphertext: row.key_ciphertext!,
          iv: row.key_iv!,
          authTag: row.key_auth_tag!,
          keyId: row.key_key_id!,
        },
        unitId,
      ),
    ).toBe(key);
    const view = await readOrder(bought.userId, bought.orderId);
    expect(view).toMatchObject({ status: 'refunded', items: [{ keys: [], delivered: 0, refunded: 1 }] });
    expect(JSON.stringify(view)).not.toContain(key);
    expect(await ground.readers.fulfilment.sealedKeys(bought.orderId)).toEqual([]);
    expect(await refundEntriesOf(ground, unitId)).toHaveLength(1);
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });

  // The shop paid G2A for it: the key is still fetched, and kept sealed where nobody reads it.
  it('a unit refunded while paid and waiting for its key: the late key is still fetched and stored sealed', async () => {
    sim.state.setFaults({ keyDelayMs: 60_000 });
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    expect(await fulfil(deps(), unitId)).toBe('waiting');
    expect((await unitRow(ground, unitId)).state).toBe('paid');
    expect((await refund(bought.orderId)).status).toBe('refunded');

    ground.clock.advance(60_000);
    await fulfil(deps(), unitId);
    const row = await unitRow(ground, unitId);
    expect(row.key_ciphertext).not.toBeNull();
    expect((await readOrder(bought.userId, bought.orderId)).items[0]!.keys).toEqual([]);
  });

  it('a unit refunded before its payment leaves is never paid at G2A', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    // The first payment is throttled (429: not processed); G2A's details still say `new`: tried later.
    const throttled = wrapG2A(g2a, {
      payOrder: async () => {
        throw new G2AError('rate_limited', 'PUT /v1/order/pay failed: HTTP 429 BR03', 429, 'BR03');
      },
    });
    expect(await fulfil(deps({ g2a: throttled }), unitId)).toBe('waiting');
    expect((await unitRow(ground, unitId)).state).toBe('ordered');
    expect((await refund(bought.orderId)).status).toBe('refunded');
    const pays = routeCount(PAY_ROUTE);

    ground.clock.advance(60_000);
    expect(await fulfil(deps(), unitId)).toBe('closed');
    expect(sim.state.listOrders().at(-1)).toMatchObject({ paid: false });
    expect(routeCount(PAY_ROUTE)).toBe(pays);
  });

  it('a unit refunded while its payment is in flight: G2A is paid, the key is kept sealed and never shown', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const held = gated('payOrder');
    const working = fulfil(deps({ g2a: held.g2a }), unitId);
    await held.entered;
    expect((await refund(bought.orderId)).status).toBe('refunded');
    held.release();
    expect(await working).toBe('closed');

    expect(sim.state.listOrders().at(-1)).toMatchObject({ paid: true });
    const row = await unitRow(ground, unitId);
    expect(row).toMatchObject({ state: 'refunded' });
    expect(row.paid_at).not.toBeNull();
    expect(row.key_ciphertext).not.toBeNull();
    expect((await readOrder(bought.userId, bought.orderId)).items[0]!.keys).toEqual([]);
    expect(await refundEntriesOf(ground, unitId)).toHaveLength(1);
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });
});

describe('fulfilOrderUnit: one unit, many workers', () => {
  it('a second call while the first holds the unit answers busy; one G2A order', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const held = gated('createOrder');
    const firstWorker = deps({ g2a: held.g2a });
    const first = fulfil(firstWorker, unitId);
    await held.entered;
    // Written before the create call leaves: a worker that died now leaves the next one warned.
    expect(await unitRow(ground, unitId)).toMatchObject({
      state: 'pending',
      create_started_at: ground.clock.now(),
      lease_owner: expect.stringMatching(/^[0-9a-f-]{36}$/),
      lease_until: new Date(ground.clock.now().getTime() + TEST_SETTINGS.leaseMs),
    });

    expect(await fulfil(deps(), unitId)).toBe('busy');
    held.release();
    expect(await first).toBe('delivered');
    expect(sim.state.listOrders()).toHaveLength(1);
    expect(routeCount(PAY_ROUTE)).toBe(1);
  });

  it('a worker whose payment another worker recorded first goes on to the key itself', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    // The first worker's lease runs out while its payment is on the way (a call outliving the lease).
    const held = gated('payOrder');
    const first = fulfil(deps({ g2a: held.g2a }), unitId);
    await held.entered;
    ground.clock.advance(TEST_SETTINGS.leaseMs + 1);
    // The second takes the unit over and looks the payment up; the first worker's payment lands and is
    // recorded in between: the second finds the unit paid already.
    const second = fulfil(
      deps({
        g2a: wrapG2A(g2a, {
          getOrderDetails: async (orderId) => {
            held.release();
            expect(await first).toBe('busy');
            return g2a.getOrderDetails(orderId);
          },
        }),
      }),
      unitId,
    );
    expect(await second).toBe('delivered');
    expect(await unitRow(ground, unitId)).toMatchObject({ state: 'delivered', lease_owner: null });
    expect(routeCount(PAY_ROUTE)).toBe(1);
  });

  it('a payment still waiting to leave when its lease was taken over is never sent: one payment', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    // The first worker's payment waits (for its slot under G2A's rate, say) past its lease.
    const held = gated('payOrder');
    const first = fulfil(deps({ g2a: held.g2a }), unitId);
    await held.entered;
    ground.clock.advance(TEST_SETTINGS.leaseMs + 1);
    expect(await fulfil(deps(), unitId)).toBe('delivered');

    held.release();
    expect(await first).toBe('busy');
    expect(routeCount(PAY_ROUTE)).toBe(1);
    expect(sim.state.listOrders()).toHaveLength(1);
    expect(await unitRow(ground, unitId)).toMatchObject({ state: 'delivered', lease_owner: null });
    expect(await refundEntriesOf(ground, unitId)).toEqual([]);
  });

  it('a refusal that comes back after another worker took the unit over refunds nothing', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const funded = await balanceOf(ground, bought.userId);
    // The first worker's payment leaves under its lease, and G2A's refusal comes back after the lease ran out.
    const answered = deferred();
    const late = deferred();
    const first = fulfil(
      deps({
        g2a: wrapG2A(g2a, {
          payOrder: async (_orderId, check) => {
            expect(await check!.mayLeave!()).toBe(true);
            answered.resolve();
            await late.promise;
            throw new G2AError('rejected', 'PUT /v1/order/pay failed: payment refused', 400, 'ORD112');
          },
        }),
      }),
      unitId,
    );
    await answered.promise;
    ground.clock.advance(TEST_SETTINGS.leaseMs + 1);
    // The second worker holds the unit, its own payment on the way, when the first one's refusal arrives.
    const second = gated('payOrder');
    const taking = fulfil(deps({ g2a: second.g2a }), unitId);
    await second.entered;
    late.resolve();
    expect(await first).toBe('closed');
    expect(await refundEntriesOf(ground, unitId)).toEqual([]);
    expect(await unitRow(ground, unitId)).toMatchObject({ state: 'ordered', failure_reason: null });

    second.release();
    expect(await taking).toBe('delivered');
    expect(await refundEntriesOf(ground, unitId)).toEqual([]);
    expect(await balanceOf(ground, bought.userId)).toBe(funded);
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });

  it('a payment refused although G2A holds the order paid (an earlier attempt paid it) is delivered, not refunded', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    const paidThenRefused = wrapG2A(g2a, {
      payOrder: async (orderId, check) => {
        await g2a.payOrder(orderId, check);
        throw new G2AError('rejected', 'PUT /v1/order/pay failed: order already paid', 400, 'ORD113');
      },
    });
    expect(await fulfil(deps({ g2a: paidThenRefused }), unitId)).toBe('delivered');
    expect(await refundEntriesOf(ground, unitId)).toEqual([]);
    expect(await unitRow(ground, unitId)).toMatchObject({ state: 'delivered', failure_reason: null });
    expect(logsOf(unitId).some((entry) => entry.fields.outcome === 'paid_after_all')).toBe(true);
  });

  it('calls racing on one unit: one delivers, the others are busy or find it closed; one G2A order', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const outcomes = await Promise.all(Array.from({ length: 5 }, () => fulfil(deps(), bought.units[0]!)));
    expect(outcomes.filter((outcome) => outcome === 'delivered')).toHaveLength(1);
    expect(
      outcomes.filter((outcome) => outcome !== 'delivered').every((o) => ['busy', 'closed'].includes(o)),
    ).toBe(true);
    expect(sim.state.listOrders()).toHaveLength(1);
    expect(routeCount(PAY_ROUTE)).toBe(1);
  });
});

describe('reconcileFulfilment', () => {
  it('hands back open units that are due and not leased, and nothing else', async () => {
    const [p1, p2, p3, p4, p5] = [nextProduct(), nextProduct(), nextProduct(), nextProduct(), nextProduct()];
    const fresh = (await buy(ground, [p1])).units[0]!;
    const delivered = (await buy(ground, [p2])).units[0]!;
    const refunded = await buy(ground, [p3]);
    const waiting = (await buy(ground, [p4])).units[0]!;
    const leased = (await buy(ground, [p5])).units[0]!;
    catchUpClock();
    expect(await fulfil(deps(), delivered)).toBe('delivered');
    await refund(refunded.orderId);
    sim.state.setFaults({ keyDelayMs: 60_000 });
    expect(await fulfil(deps(), waiting)).toBe('waiting');
    const held = gated('createOrder');
    const working = fulfil(deps({ g2a: held.g2a }), leased);
    await held.entered;

    const handedAt = async () => {
      await ground.clearOutbox();
      const handed = await reconcile();
      const ids = (await fulfilMessages(ground)).map((m) => m.unitId);
      expect(ids).toHaveLength(handed);
      expect(new Set(ids).size).toBe(ids.length);
      return ids;
    };
    let ids = await handedAt();
    expect(ids).toContain(fresh);
    for (const unitId of [delivered, refunded.units[0]!, waiting, leased]) expect(ids).not.toContain(unitId);

    ground.clock.advance(1_000);
    ids = await handedAt();
    expect(ids).toEqual(expect.arrayContaining([fresh, waiting]));
    expect(ids).not.toContain(leased);

    // A worker that died keeps the unit only until its lease runs out.
    ground.clock.advance(TEST_SETTINGS.leaseMs);
    ids = await handedAt();
    expect(ids).toEqual(expect.arrayContaining([fresh, waiting, leased]));
    for (const unitId of [delivered, refunded.units[0]!]) expect(ids).not.toContain(unitId);

    held.release();
    await working;
  });
});

describe('the "keys ready" e-mail', () => {
  const emailsTo = async (to: string) =>
    (await ground.outbox('email.send')).filter((message) => message.to === to);
  const emailOf = async (userId: string) =>
    (await ground.db.selectFrom('users').select('email').where('id', '=', userId).executeTakeFirstOrThrow())
      .email;

  it('is written once, when the order settles with keys, and carries no key', async () => {
    const bought = await buy(ground, [nextProduct(), nextProduct()]);
    const to = await emailOf(bought.userId);
    expect(await fulfil(deps(), bought.units[0]!)).toBe('delivered');
    expect(await emailsTo(to)).toEqual([]);
    expect(await fulfil(deps(), bought.units[1]!)).toBe('delivered');
    expect(await fulfil(deps(), bought.units[1]!)).toBe('closed');
    await refundOrder({ uow: ground.uow, logger: ground.logger }, { orderId: bought.orderId, all: false });

    const emails = await emailsTo(to);
    expect(emails).toHaveLength(1);
    expect(emails[0]!.text).toContain(bought.orderId);
    const keys = (await readOrder(bought.userId, bought.orderId)).items.flatMap((item) => item.keys!);
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(JSON.stringify(emails[0])).not.toContain(key);
  });

  it('is written when some units were refused and the others delivered, never when none was delivered', async () => {
    const partly = await buy(ground, [nextProduct(), nextProduct()]);
    const none = await buy(ground, [nextProduct()]);
    expect(await fulfil(deps(), partly.units[0]!)).toBe('delivered');
    sim.state.setFaults({ orderFailure: 'out_of_stock' });
    expect(await fulfil(deps(), partly.units[1]!)).toBe('refunded');
    expect(await fulfil(deps(), none.units[0]!)).toBe('refunded');

    expect(await emailsTo(await emailOf(partly.userId))).toHaveLength(1);
    expect(await emailsTo(await emailOf(none.userId))).toEqual([]);
  });
});

describe('fulfilOrderUnit: a create G2A may have acted on', () => {
  // A 5xx may come from a gateway in front of G2A after the order was made (ORD122 "Bad gateway").
  it('a create answered 502 after G2A made the order gets no second order before the lapse', async () => {
    const bought = await buy(ground, [nextProduct()]);
    const unitId = bought.units[0]!;
    sim.createAnswerReplacedBy = { httpStatus: 502, code: 'ORD122', message: 'Bad gateway' };
    expect(await fulfil(deps(), unitId)).toBe('waiting');
    expect(sim.state.listOrders()).toHaveLength(1);
    sim.createAnswerReplacedBy = null;

    ground.clock.advance(60_000);
    await fulfil(deps(), unitId);
    expect(sim.state.listOrders()).toHaveLength(1);
  });
});
