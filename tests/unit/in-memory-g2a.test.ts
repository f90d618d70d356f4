import { describe, expect, it } from 'vitest';
import { G2ASimulatorState } from '../../src/adapters/g2a/simulator-state.js';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryG2A } from '../../src/adapters/memory/in-memory-g2a.js';
import { G2AError } from '../../src/ports/g2a.js';

function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const state = new G2ASimulatorState({
    productCount: 30,
    seed: 3,
    ratePerMinute: 0,
    now: () => clock.now().getTime(),
  });
  const inStock = state.listProducts({ page: 1 }).docs[0]!;
  return { clock, state, g2a: new InMemoryG2A(state), inStock };
}

async function g2aFailure(promise: Promise<unknown>): Promise<G2AError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(G2AError);
  return error as G2AError;
}

describe('InMemoryG2A', () => {
  it('pages the simulated catalogue and answers copies of it', async () => {
    const { g2a, state } = setup();

    const first = await g2a.listProducts({ page: 1, includeOutOfStock: true });
    const second = await g2a.listProducts({ page: 2, includeOutOfStock: true });
    first.docs[0]!.minPrice = 0;

    expect([first.total, first.docs.length, second.docs.length]).toEqual([30, 20, 10]);
    expect(state.findProduct(first.docs[0]!.id)!.minPrice).not.toBe(0);
    expect(state.stats.byRoute['GET /v1/products']).toBe(2);
  });

  it('buys a key: order, payment, then the key once G2A has processed it', async () => {
    const { g2a, state, clock, inStock } = setup();
    state.setFaults({ keyDelayMs: 5_000 });

    const order = await g2a.createOrder({ productId: inStock.id, maxPriceEur: inStock.minPrice });
    await g2a.payOrder(order.orderId);

    expect(order).toEqual({ orderId: expect.any(String), price: inStock.minPrice, currency: 'EUR' });
    expect((await g2aFailure(g2a.getOrderKey(order.orderId))).kind).toBe('not_ready');
    expect(await g2a.getOrderDetails(order.orderId)).toMatchObject({ status: 'pending' });
    clock.advance(5_000);
    expect(await g2a.getOrderKey(order.orderId)).toEqual({
      key: expect.stringMatching(/^\w{5}-\w{5}-\w{5}$/),
    });
    expect(await g2a.getOrderDetails(order.orderId)).toMatchObject({ status: 'complete' });
  });

  it("maps the simulator's refusals and faults to G2A errors", async () => {
    const { g2a, state, inStock } = setup();

    expect((await g2aFailure(g2a.createOrder({ productId: 'nope', maxPriceEur: 1 }))).kind).toBe('not_found');
    const tooCheap = g2a.createOrder({ productId: inStock.id, maxPriceEur: inStock.minPrice / 2 });
    expect(await g2aFailure(tooCheap)).toMatchObject({ kind: 'rejected', g2aCode: 'ORD06' });
    expect((await g2aFailure(g2a.payOrder('404'))).kind).toBe('not_found');

    state.setFaults({ errorRate: 1 });
    expect(await g2aFailure(g2a.listProducts({ page: 1 }))).toMatchObject({
      kind: 'unavailable',
      transient: true,
    });
    state.setFaults({ errorRate: 0, ratePerMinute: 1 });
    await g2a.listProducts({ page: 1 });
    expect((await g2aFailure(g2a.listProducts({ page: 1 }))).kind).toBe('rate_limited');
    state.setFaults({ ratePerMinute: 0 });
    g2a.rejectCredentials = true;
    expect(await g2aFailure(g2a.listProducts({ page: 1 }))).toMatchObject({
      kind: 'unauthorized',
      transient: false,
    });
  });

  it('fails the listing of one page once when told to', async () => {
    const { g2a } = setup();
    g2a.failPage(2, new G2AError('timeout', 'GET /v1/products timed out'));

    expect((await g2aFailure(g2a.listProducts({ page: 2 }))).kind).toBe('timeout');
    expect((await g2a.listProducts({ page: 2 })).page).toBe(2);
    expect(g2a.listQueries.map((query) => query.page)).toEqual([2, 2]);
  });
});
