import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { G2AError, type G2AProduct } from '../../src/ports/g2a.js';
import type { Logger } from '../../src/ports/logger.js';
import { createG2ASimulator, type G2ASimulator } from '../../src/adapters/g2a/simulator.js';
import type { SimulatorFaults } from '../../src/adapters/g2a/simulator-state.js';
import { UndiciG2AClient, type UndiciG2AClientOptions } from '../../src/adapters/g2a/undici-g2a-client.js';

const CREDENTIALS = { apiHash: 'test-hash', apiSecret: 'test-secret', email: 'buyer@keyshop.test' };

interface LogEntry {
  level: string;
  fields: Record<string, unknown>;
  message?: string;
}

function capturingLogger(entries: LogEntry[] = []): Logger & { entries: LogEntry[] } {
  const at =
    (level: string) =>
    (fieldsOrMessage: Record<string, unknown> | string, message?: string): void => {
      if (typeof fieldsOrMessage === 'string') entries.push({ level, fields: {}, message: fieldsOrMessage });
      else entries.push({ level, fields: fieldsOrMessage, message });
    };
  const logger = {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startSimulator(options: Parameters<typeof createG2ASimulator>[0] = {}) {
  const simulator = createG2ASimulator({ products: 100, ...CREDENTIALS, ...options });
  const baseUrl = await simulator.listen(0);
  cleanups.push(() => simulator.close());
  return { simulator, baseUrl };
}

function client(baseUrl: string, options: Partial<UndiciG2AClientOptions> = {}): UndiciG2AClient {
  const created = new UndiciG2AClient({
    baseUrl,
    ...CREDENTIALS,
    ratePerMinute: 0,
    timeoutMs: 5_000,
    maxRetries: 3,
    retryBaseDelayMs: 5,
    ...options,
  });
  cleanups.push(() => created.close());
  return created;
}

function setFaults(simulator: G2ASimulator, faults: Partial<SimulatorFaults>): void {
  simulator.state.setFaults(faults);
}

async function failure(promise: Promise<unknown>): Promise<G2AError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(G2AError);
  return error as G2AError;
}

function requestsTo(simulator: G2ASimulator, route: string): number {
  return simulator.state.stats.byRoute[route] ?? 0;
}

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function pollForKey(g2a: UndiciG2AClient, orderId: string): Promise<{ key: string }> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      return await g2a.getOrderKey(orderId);
    } catch (error) {
      if (!(error instanceof G2AError) || error.kind !== 'not_ready' || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function firstInStock(g2a: UndiciG2AClient): Promise<G2AProduct> {
  return (await g2a.listProducts({ page: 1 })).docs[0]!;
}

describe('UndiciG2AClient against the simulator', () => {
  it('describes its endpoint and account', () => {
    expect(client('https://api.g2a.com').describe()).toBe(
      'G2A https://api.g2a.com (account buyer@keyshop.test)',
    );
  });

  it('pages the catalogue and asks for out-of-stock products only when told', async () => {
    const { baseUrl } = await startSimulator({ products: 70 });
    const g2a = client(baseUrl);

    const collect = async (includeOutOfStock: boolean) => {
      const docs: G2AProduct[] = [];
      const first = await g2a.listProducts({ page: 1, includeOutOfStock });
      for (let page = 1; page <= Math.ceil(first.total / 20); page++) {
        const listing = await g2a.listProducts({ page, includeOutOfStock });
        expect(listing.page).toBe(page);
        expect(listing.docs.length).toBeLessThanOrEqual(20);
        docs.push(...listing.docs);
      }
      return { total: first.total, docs };
    };
    const inStock = await collect(false);
    const everything = await collect(true);
    expect(everything.total).toBe(70);
    expect(everything.docs).toHaveLength(70);
    expect(inStock.docs).toHaveLength(inStock.total);
    expect(inStock.total).toBeLessThan(70);
    expect(inStock.docs.every((product) => product.qty > 0 && product.availableToBuy !== false)).toBe(true);

    const outOfStock = everything.docs.find((product) => product.qty === 0)!;
    expect((await g2a.listProducts({ page: 1, id: outOfStock.id })).docs).toEqual([]);
    expect((await g2a.listProducts({ page: 1, id: outOfStock.id, includeOutOfStock: true })).docs).toEqual([
      outOfStock,
    ]);
  });

  it('sends nothing once the process is stopping: a call waiting for its slot fails at once as unsent', async () => {
    const { simulator, baseUrl } = await startSimulator();
    const stop = new AbortController();
    // One request a minute: the second call waits for its slot for most of a minute.
    const g2a = client(baseUrl, { ratePerMinute: 1, burst: 1, stopping: stop.signal });
    const product = await firstInStock(g2a);
    const before = simulator.state.listOrders().length;

    const waiting = g2a.createOrder({ productId: product.id, maxPriceEur: product.minPrice });
    waiting.catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    stop.abort();
    const failure = await waiting.catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(G2AError);
    expect(failure).toMatchObject({ kind: 'unavailable', unsent: true, mayHaveActed: false });
    expect(simulator.state.listOrders()).toHaveLength(before);
    await expect(g2a.listProducts({ page: 1 })).rejects.toMatchObject({ unsent: true });
  });

  it('creates, pays and polls for the key until it is processed', async () => {
    let clockOffsetMs = 0;
    const { simulator, baseUrl } = await startSimulator({ now: () => Date.now() + clockOffsetMs });
    setFaults(simulator, { keyDelayMs: 60_000 });
    const g2a = client(baseUrl);
    const product = await firstInStock(g2a);

    const order = await g2a.createOrder({ productId: product.id, maxPriceEur: product.minPrice });
    expect(order).toEqual({
      orderId: expect.stringMatching(/^\d+$/),
      price: product.minPrice,
      currency: 'EUR',
    });
    expect(await g2a.getOrderDetails(order.orderId)).toEqual({
      status: 'new',
      price: product.minPrice,
      currency: 'EUR',
    });
    expect(await g2a.payOrder(order.orderId)).toEqual({ transactionId: expect.any(String) });

    const early = await failure(g2a.getOrderKey(order.orderId));
    expect(early.kind).toBe('not_ready');
    expect(early.transient).toBe(true);

    clockOffsetMs = 60_000;
    const { key } = await pollForKey(g2a, order.orderId);
    expect(key).toMatch(/^[A-Z0-9-]{17}$/);
    expect((await g2a.getOrderDetails(order.orderId)).status).toBe('complete');
    expect(simulator.state.listOrders()).toEqual([
      expect.objectContaining({ orderId: order.orderId, paid: true, keyDelivered: true }),
    ]);
  });

  it('maps refusals to typed errors', async () => {
    const { simulator, baseUrl } = await startSimulator();
    const g2a = client(baseUrl);
    const product = await firstInStock(g2a);

    setFaults(simulator, { orderFailure: 'out_of_stock' });
    expect(await failure(g2a.createOrder({ productId: product.id, maxPriceEur: 1_000 }))).toMatchObject({
      kind: 'rejected',
      httpStatus: 400,
    });
    setFaults(simulator, { orderFailure: 'price_too_high' });
    expect((await failure(g2a.createOrder({ productId: product.id, maxPriceEur: 1_000 }))).kind).toBe(
      'rejected',
    );
    setFaults(simulator, { orderFailure: 'payment' });
    const order = await g2a.createOrder({ productId: product.id, maxPriceEur: 1_000 });
    expect(await failure(g2a.payOrder(order.orderId))).toMatchObject({ kind: 'rejected', g2aCode: 'ORD112' });
    expect(requestsTo(simulator, 'PUT /v1/order/pay/:id')).toBe(1);

    setFaults(simulator, { orderFailure: 'none' });
    expect(
      (await failure(g2a.createOrder({ productId: product.id, maxPriceEur: product.minPrice - 0.01 }))).kind,
    ).toBe('rejected');
    expect((await failure(g2a.createOrder({ productId: '12345678901234', maxPriceEur: 10 }))).kind).toBe(
      'not_found',
    );
    expect((await failure(g2a.getOrderDetails('1'))).kind).toBe('not_found');
    expect((await failure(g2a.getOrderKey('1'))).kind).toBe('not_found');
    expect((await failure(g2a.payOrder('1'))).kind).toBe('not_found');
  });

  it('reports wrong credentials as unauthorized, without retrying', async () => {
    const { simulator, baseUrl } = await startSimulator();
    const g2a = client(baseUrl, { apiSecret: 'wrong-secret' });
    expect(await failure(g2a.listProducts({ page: 1 }))).toMatchObject({
      kind: 'unauthorized',
      httpStatus: 401,
      g2aCode: 'AUTH02',
    });
    expect(requestsTo(simulator, 'GET /v1/products')).toBe(1);
  });

  it('retries GETs through a 30% error rate', async () => {
    const { simulator, baseUrl } = await startSimulator({ products: 200 });
    setFaults(simulator, { errorRate: 0.3 });
    const g2a = client(baseUrl, { maxRetries: 12 });
    const ids = new Set<string>();
    for (let page = 1; page <= 10; page++) {
      for (const product of (await g2a.listProducts({ page, includeOutOfStock: true })).docs)
        ids.add(product.id);
    }
    expect(ids.size).toBe(200);
    expect(simulator.state.stats.injectedErrors).toBeGreaterThan(0);
  });

  it('never repeats a create or a pay after a 5xx, but does repeat a GET', async () => {
    const { simulator, baseUrl } = await startSimulator();
    const logger = capturingLogger();
    const g2a = client(baseUrl, { maxRetries: 2, logger });
    const product = await firstInStock(g2a);
    const unpaid = await g2a.createOrder({ productId: product.id, maxPriceEur: 1_000 });

    setFaults(simulator, { errorRate: 1 });
    expect((await failure(g2a.createOrder({ productId: product.id, maxPriceEur: 1_000 }))).kind).toBe(
      'unavailable',
    );
    expect(requestsTo(simulator, 'POST /v1/order')).toBe(2);
    expect((await failure(g2a.payOrder(unpaid.orderId))).kind).toBe('unavailable');
    expect(requestsTo(simulator, 'PUT /v1/order/pay/:id')).toBe(1);
    expect((await failure(g2a.getOrderDetails(unpaid.orderId))).kind).toBe('unavailable');
    expect(requestsTo(simulator, 'GET /v1/order/details/:id')).toBe(3);
    expect(logger.entries.filter((entry) => entry.fields.outcome === 'retrying')).toHaveLength(2);
  });

  it('repeats a create refused with 429, since G2A did not process it', async () => {
    const { simulator, baseUrl } = await startSimulator();
    const g2a = client(baseUrl);
    const product = await firstInStock(g2a);
    setFaults(simulator, { ratePerMinute: 60, rateWindowMs: 1_000 });
    await g2a.listProducts({ page: 1 });

    const order = await g2a.createOrder({ productId: product.id, maxPriceEur: 1_000 });
    expect(simulator.state.stats.rateLimited).toBeGreaterThan(0);
    expect(requestsTo(simulator, 'POST /v1/order')).toBeGreaterThan(1);
    expect(simulator.state.listOrders().map((listed) => listed.orderId)).toEqual([order.orderId]);
  });

  it('asks its caller before each attempt of a create or pay leaves, and sends nothing once told no', async () => {
    const { simulator, baseUrl } = await startSimulator();
    const g2a = client(baseUrl);
    const product = await firstInStock(g2a);
    setFaults(simulator, { ratePerMinute: 60, rateWindowMs: 1_000 });
    await g2a.listProducts({ page: 1 });

    // Refused with 429 first: the retry is asked about again, after its wait.
    let asked = 0;
    const order = await g2a.createOrder(
      { productId: product.id, maxPriceEur: 1_000 },
      { mayLeave: async () => (asked++, true) },
    );
    expect(asked).toBe(requestsTo(simulator, 'POST /v1/order'));
    expect(asked).toBeGreaterThan(1);

    setFaults(simulator, { ratePerMinute: 0 });
    const pays = requestsTo(simulator, 'PUT /v1/order/pay/:id');
    const refused = await failure(g2a.payOrder(order.orderId, { mayLeave: async () => false }));
    expect(refused).toMatchObject({ kind: 'unavailable', unsent: true, mayHaveActed: false });
    expect(requestsTo(simulator, 'PUT /v1/order/pay/:id')).toBe(pays);
    expect(simulator.state.findOrder(order.orderId)!.paid).toBe(false);
  });

  it('rides out a 429 storm, waiting at least Retry-After before each retry', async () => {
    const { simulator, baseUrl } = await startSimulator();
    setFaults(simulator, { ratePerMinute: 180, rateWindowMs: 1_000 });
    const logger = capturingLogger();
    const g2a = client(baseUrl, { maxRetries: 10, logger });

    const pages = await Promise.all(
      Array.from({ length: 9 }, (_, index) => g2a.listProducts({ page: 1 + (index % 3) })),
    );
    expect(pages.map((listing) => listing.docs.length)).toEqual(Array(9).fill(20));
    expect(simulator.state.stats.rateLimited).toBeGreaterThan(0);

    const retries = logger.entries.filter((entry) => entry.fields.outcome === 'retrying');
    expect(retries.length).toBeGreaterThan(0);
    for (const retry of retries) {
      expect(retry.fields).toMatchObject({ kind: 'rate_limited', retryAfterMs: 1_000 });
      expect(retry.fields.delayMs).toBeGreaterThanOrEqual(1_000);
    }
  });

  it('gives up at once on a Retry-After longer than it is willing to wait', async () => {
    const { simulator, baseUrl } = await startSimulator({ ratePerMinute: 1 });
    const g2a = client(baseUrl, { maxRetryAfterMs: 10_000 });
    await g2a.listProducts({ page: 1 });
    expect(await failure(g2a.listProducts({ page: 2 }))).toMatchObject({
      kind: 'rate_limited',
      httpStatus: 429,
    });
    expect(requestsTo(simulator, 'GET /v1/products')).toBe(2);
  });

  it('spaces its own requests to the configured rate', async () => {
    const { baseUrl } = await startSimulator();
    const g2a = client(baseUrl, { ratePerMinute: 120, burst: 1 });
    const startedAt = Date.now();
    await Promise.all([1, 2, 3].map((page) => g2a.listProducts({ page })));
    // Three requests at two per second cannot all have left before the third slot, 1 s after the first.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1_000);
  });

  it('times out, and never repeats a timed-out create', async () => {
    const { simulator, baseUrl } = await startSimulator();
    const g2a = client(baseUrl, { timeoutMs: 150, maxRetries: 1 });
    const product = await firstInStock(g2a);
    setFaults(simulator, { latencyMs: 600 });

    expect((await failure(g2a.listProducts({ page: 1 }))).kind).toBe('timeout');
    expect(requestsTo(simulator, 'GET /v1/products')).toBe(3);

    expect((await failure(g2a.createOrder({ productId: product.id, maxPriceEur: 1_000 }))).kind).toBe(
      'timeout',
    );
    expect(requestsTo(simulator, 'POST /v1/order')).toBe(1);
    // The order went through after the client gave up: exactly the ambiguity that forbids a blind retry.
    await waitFor(() => simulator.state.listOrders().length === 1);
  });

  it('repeats a create when the connection was refused before anything was sent', async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const { port: free } = server.address() as { port: number };
        server.close(() => resolve(free));
      });
    });
    const logger = capturingLogger();
    const g2a = client(`http://127.0.0.1:${port}`, { maxRetries: 2, logger });
    expect((await failure(g2a.createOrder({ productId: '1', maxPriceEur: 1 }))).kind).toBe('network');
    expect(logger.entries.filter((entry) => entry.fields.outcome === 'retrying')).toHaveLength(2);
  });

  it('never logs the authorization header, the secret or a key', async () => {
    const { simulator, baseUrl } = await startSimulator();
    const logger = capturingLogger();
    const g2a = client(baseUrl, { logger });
    const product = await firstInStock(g2a);
    const order = await g2a.createOrder({ productId: product.id, maxPriceEur: 1_000 });
    await g2a.payOrder(order.orderId);
    const { key } = await g2a.getOrderKey(order.orderId);
    setFaults(simulator, { errorRate: 1 });
    await failure(g2a.getOrderKey(order.orderId));

    const logged = JSON.stringify(logger.entries);
    expect(logger.entries.length).toBeGreaterThan(0);
    for (const secret of [key, CREDENTIALS.apiSecret, CREDENTIALS.apiHash])
      expect(logged).not.toContain(secret);
  });
});
