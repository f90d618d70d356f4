import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { G2AProduct, G2AProductPage } from '../../src/ports/g2a.js';
import { g2aAuthorizationHeader } from '../../src/adapters/g2a/g2a-auth.js';
import { createG2ASimulator, type G2ASimulator } from '../../src/adapters/g2a/simulator.js';
import {
  SIMULATOR_DEV_API_HASH,
  SIMULATOR_DEV_API_SECRET,
  SIMULATOR_DEV_EMAIL,
} from '../../src/adapters/g2a/simulator-defaults.js';

const AUTHORIZATION = g2aAuthorizationHeader(
  SIMULATOR_DEV_API_HASH,
  SIMULATOR_DEV_EMAIL,
  SIMULATOR_DEV_API_SECRET,
);

const simulators: G2ASimulator[] = [];
const servers: Server[] = [];

afterEach(async () => {
  await Promise.all(simulators.splice(0).map((simulator) => simulator.close()));
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

function simulator(options: Parameters<typeof createG2ASimulator>[0] = {}): G2ASimulator {
  const created = createG2ASimulator({ products: 100, ...options });
  simulators.push(created);
  return created;
}

function manualClock(start = Date.UTC(2026, 0, 1)) {
  let time = start;
  return { now: () => time, advance: (ms: number) => (time += ms) };
}

async function api(
  sim: G2ASimulator,
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  body?: unknown,
  authorization: string | null = AUTHORIZATION,
) {
  const response = await sim.app.inject({
    method,
    url,
    headers: authorization === null ? {} : { authorization },
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
  return { status: response.statusCode, headers: response.headers, body: response.json() };
}

async function control(sim: G2ASimulator, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown) {
  const response = await sim.app.inject({
    method,
    url,
    ...(body === undefined ? {} : { payload: body as Record<string, unknown> }),
  });
  return { status: response.statusCode, body: response.json() };
}

async function listAll(sim: G2ASimulator, query = ''): Promise<{ total: number; docs: G2AProduct[] }> {
  const docs: G2AProduct[] = [];
  let total = 0;
  for (let page = 1; ; page++) {
    const { body } = await api(sim, 'GET', `/v1/products?page=${page}${query}`);
    const listing = body as G2AProductPage;
    total = listing.total;
    docs.push(...listing.docs);
    if (listing.docs.length < 20) return { total, docs };
  }
}

const inStock = (product: G2AProduct) => product.qty > 0 && product.availableToBuy !== false;

describe('G2A simulator', () => {
  describe('authorization', () => {
    it('answers 403 AUTH01 without the header and 401 AUTH02 with a wrong one', async () => {
      const sim = simulator();
      expect(await api(sim, 'GET', '/v1/products', undefined, null)).toMatchObject({
        status: 403,
        body: { status: 'ERROR', code: 'AUTH01' },
      });
      const wrong = g2aAuthorizationHeader(SIMULATOR_DEV_API_HASH, SIMULATOR_DEV_EMAIL, 'other-secret');
      expect(await api(sim, 'GET', '/v1/products', undefined, wrong)).toMatchObject({
        status: 401,
        body: { status: 'ERROR', code: 'AUTH02' },
      });
      expect((await api(sim, 'GET', '/v1/products')).status).toBe(200);
    });

    it('checks the credentials it was given', async () => {
      const sim = simulator({ apiHash: 'h', apiSecret: 's', email: 'e@x.y' });
      expect((await api(sim, 'GET', '/v1/products')).status).toBe(401);
      expect(
        (await api(sim, 'GET', '/v1/products', undefined, g2aAuthorizationHeader('h', 'e@x.y', 's'))).status,
      ).toBe(200);
    });
  });

  describe('catalogue', () => {
    it('pages 20 products at a time and leaves out-of-stock products out unless asked', async () => {
      const sim = simulator({ products: 100 });
      const first = await api(sim, 'GET', '/v1/products?page=1');
      expect(first.body.page).toBe(1);
      expect(first.body.docs).toHaveLength(20);

      const listed = await listAll(sim);
      const everything = await listAll(sim, '&includeOutOfStock=true');
      expect(everything.total).toBe(100);
      expect(everything.docs).toHaveLength(100);
      expect(listed.docs).toHaveLength(listed.total);
      expect(listed.docs.every(inStock)).toBe(true);
      expect(listed.total).toBe(everything.docs.filter(inStock).length);
      expect(listed.total).toBeLessThan(100);

      const beyond = await api(sim, 'GET', '/v1/products?page=99');
      expect(beyond.body).toEqual({ total: listed.total, page: 99, docs: [] });
      expect((await api(sim, 'GET', '/v1/products?page=0')).status).toBe(400);
      expect((await api(sim, 'GET', '/v1/products?page=abc')).status).toBe(400);
    });

    it('generates plausible G2A products', async () => {
      const sim = simulator({ products: 200 });
      const { docs } = await listAll(sim, '&includeOutOfStock=true');
      expect(new Set(docs.map((product) => product.id)).size).toBe(200);
      for (const product of docs) {
        expect(product.id).toMatch(/^\d{14}$/);
        expect(Math.round(product.minPrice * 100)).toBeCloseTo(product.minPrice * 100, 6);
        expect(product.minPrice).toBeGreaterThan(0);
        expect(product.slug).toMatch(new RegExp(`^/[a-z0-9-]+-i${product.id}$`));
        expect(product.updated_at).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
        expect(product.release_date).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(product.categories?.length).toBeGreaterThan(0);
        expect(product.thumbnail).toMatch(/^https:\/\//);
      }
      const platforms = new Set(docs.map((product) => product.platform));
      expect(platforms).toContain('Steam');
      expect(platforms.size).toBeGreaterThan(4);
      const outOfStock = docs.filter((product) => !inStock(product)).length;
      expect(outOfStock).toBeGreaterThan(5);
      expect(outOfStock).toBeLessThan(45);
    });

    it('is deterministic for a seed, and product n does not depend on the catalogue size', async () => {
      const first = await listAll(simulator({ seed: 7, products: 60 }), '&includeOutOfStock=true');
      const again = await listAll(simulator({ seed: 7, products: 60 }), '&includeOutOfStock=true');
      const larger = await listAll(simulator({ seed: 7, products: 120 }), '&includeOutOfStock=true');
      const otherSeed = await listAll(simulator({ seed: 8, products: 60 }), '&includeOutOfStock=true');
      expect(again.docs).toEqual(first.docs);
      expect(larger.docs.slice(0, 60)).toEqual(first.docs);
      expect(otherSeed.docs.map((product) => product.name)).not.toEqual(
        first.docs.map((product) => product.name),
      );
    });

    it('filters by id and minQty', async () => {
      const sim = simulator();
      const [product] = (await api(sim, 'GET', '/v1/products?page=1')).body.docs as G2AProduct[];
      const byId = await api(sim, 'GET', `/v1/products?page=1&id=${product!.id}`);
      expect(byId.body).toEqual({ total: 1, page: 1, docs: [product] });
      const rich = await listAll(sim, '&minQty=200');
      expect(rich.docs.every((doc) => doc.qty >= 200)).toBe(true);
      expect(rich.total).toBeLessThan((await listAll(sim)).total);
    });

    it('serves a 10,000-product catalogue to its last page', async () => {
      const sim = simulator({ products: 10_000 });
      const last = await api(sim, 'GET', '/v1/products?page=500&includeOutOfStock=true');
      expect(last.body.total).toBe(10_000);
      expect(last.body.docs).toHaveLength(20);
    });
  });

  describe('control endpoints', () => {
    it('change a product, which the listing reflects', async () => {
      const clock = manualClock();
      const sim = simulator({ now: clock.now });
      const [product] = (await api(sim, 'GET', '/v1/products?page=1')).body.docs as G2AProduct[];
      clock.advance(60_000);

      const changed = await control(sim, 'POST', `/__sim/products/${product!.id}`, {
        minPrice: 12.345,
        qty: 0,
      });
      expect(changed.status).toBe(200);
      expect(changed.body).toMatchObject({ id: product!.id, minPrice: 12.345, qty: 0 });
      expect(changed.body.updated_at).not.toBe(product!.updated_at);

      expect((await api(sim, 'GET', `/v1/products?page=1&id=${product!.id}`)).body.total).toBe(0);
      const withOutOfStock = await api(
        sim,
        'GET',
        `/v1/products?page=1&id=${product!.id}&includeOutOfStock=true`,
      );
      expect(withOutOfStock.body.docs[0]).toMatchObject({ minPrice: 12.345, qty: 0 });

      await control(sim, 'POST', `/__sim/products/${product!.id}`, { qty: 5, availableToBuy: false });
      expect((await api(sim, 'GET', `/v1/products?page=1&id=${product!.id}`)).body.total).toBe(0);
      await control(sim, 'POST', `/__sim/products/${product!.id}`, { availableToBuy: true });
      expect((await api(sim, 'GET', `/v1/products?page=1&id=${product!.id}`)).body.total).toBe(1);
    });

    it('refuse unknown products and malformed changes', async () => {
      const sim = simulator();
      expect((await control(sim, 'POST', '/__sim/products/99999999999999', { qty: 1 })).status).toBe(404);
      expect((await control(sim, 'DELETE', '/__sim/products/99999999999999')).status).toBe(404);
      const [product] = (await api(sim, 'GET', '/v1/products?page=1')).body.docs as G2AProduct[];
      expect((await control(sim, 'POST', `/__sim/products/${product!.id}`, { qty: -1 })).status).toBe(400);
      expect((await control(sim, 'POST', `/__sim/products/${product!.id}`, { minPrice: '5' })).status).toBe(
        400,
      );
      expect((await control(sim, 'POST', '/__sim/faults', { orderFailure: 'meteor' })).status).toBe(400);
      expect((await control(sim, 'POST', '/__sim/faults', { errorRate: 2 })).status).toBe(400);
    });

    it('add products after the seeded ones and remove products from the listing', async () => {
      const sim = simulator({ products: 40 });
      const before = await listAll(sim, '&includeOutOfStock=true');
      const added = await control(sim, 'POST', '/__sim/products', { count: 5 });
      expect(added.body).toMatchObject({ added: 5, total: 45 });
      const after = await listAll(sim, '&includeOutOfStock=true');
      expect(after.total).toBe(45);
      expect(after.docs.slice(0, 40)).toEqual(before.docs);
      expect(after.docs.slice(40).map((product) => product.id)).toEqual(added.body.ids);

      const removedId = after.docs[3]!.id;
      expect((await control(sim, 'DELETE', `/__sim/products/${removedId}`)).status).toBe(200);
      const remaining = await listAll(sim, '&includeOutOfStock=true');
      expect(remaining.total).toBe(44);
      expect(remaining.docs.map((product) => product.id)).not.toContain(removedId);
      expect((await api(sim, 'POST', '/v1/order', { product_id: removedId })).status).toBe(404);

      await control(sim, 'POST', `/__sim/products/${removedId}`, { listed: true });
      expect((await listAll(sim, '&includeOutOfStock=true')).total).toBe(45);
    });

    it('reset restores the seeded catalogue, faults and orders', async () => {
      const sim = simulator({ products: 30, ratePerMinute: 1000 });
      const seeded = await listAll(sim, '&includeOutOfStock=true');
      const target = seeded.docs.find(inStock)!;
      await control(sim, 'POST', `/__sim/products/${target.id}`, { minPrice: 1 });
      await control(sim, 'DELETE', `/__sim/products/${seeded.docs.at(-1)!.id}`);
      await control(sim, 'POST', '/__sim/products', { count: 3 });
      await control(sim, 'POST', '/__sim/faults', {
        latencyMs: 5,
        orderFailure: 'payment',
        ratePerMinute: 10,
      });
      await api(sim, 'POST', '/v1/order', { product_id: target.id, max_price: 100 });
      expect((await control(sim, 'GET', '/__sim/orders')).body.orders).toHaveLength(1);

      expect((await control(sim, 'POST', '/__sim/reset')).status).toBe(200);
      expect(await listAll(sim, '&includeOutOfStock=true')).toEqual(seeded);
      expect((await control(sim, 'GET', '/__sim/orders')).body).toEqual({ orders: [] });
      expect((await control(sim, 'GET', '/__sim/faults')).body).toMatchObject({
        errorRate: 0,
        latencyMs: 0,
        ratePerMinute: 1000,
        keyDelayMs: 0,
        orderFailure: 'none',
      });
    });
  });

  describe('orders', () => {
    async function inStockProduct(sim: G2ASimulator): Promise<G2AProduct> {
      return ((await api(sim, 'GET', '/v1/products?page=1')).body.docs as G2AProduct[])[0]!;
    }

    it('create → pay → key, with the key held back for keyDelayMs', async () => {
      const clock = manualClock();
      const sim = simulator({ now: clock.now });
      await control(sim, 'POST', '/__sim/faults', { keyDelayMs: 30_000 });
      const product = await inStockProduct(sim);

      const created = await api(sim, 'POST', '/v1/order', {
        product_id: product.id,
        max_price: product.minPrice,
      });
      expect(created.status).toBe(200);
      expect(created.body).toEqual({
        order_id: expect.stringMatching(/^\d+$/),
        price: product.minPrice,
        currency: 'EUR',
      });
      const orderId = created.body.order_id as string;
      expect((await api(sim, 'GET', `/v1/order/details/${orderId}`)).body).toEqual({
        status: 'new',
        price: product.minPrice,
        currency: 'EUR',
      });
      expect((await api(sim, 'GET', `/v1/order/key/${orderId}`)).status).toBe(402);

      const paid = await api(sim, 'PUT', `/v1/order/pay/${orderId}`);
      expect(paid.body).toEqual({ status: true, transaction_id: expect.any(String) });
      expect((await api(sim, 'PUT', `/v1/order/pay/${orderId}`)).body).toEqual(paid.body);

      const early = await api(sim, 'GET', `/v1/order/key/${orderId}`);
      expect(early).toMatchObject({
        status: 400,
        body: { status: 'ERROR', message: 'Order is not processed yet' },
      });
      expect((await api(sim, 'GET', `/v1/order/details/${orderId}`)).body.status).toBe('pending');
      expect((await control(sim, 'GET', '/__sim/orders')).body.orders).toEqual([
        {
          orderId,
          productId: product.id,
          price: product.minPrice,
          status: 'pending',
          paid: true,
          keyDelivered: false,
        },
      ]);

      clock.advance(30_000);
      const key = await api(sim, 'GET', `/v1/order/key/${orderId}`);
      expect(key).toMatchObject({
        status: 200,
        body: { key: expect.stringMatching(/^[A-Z0-9]{5}(-[A-Z0-9]{5}){2}$/) },
      });
      expect((await api(sim, 'GET', `/v1/order/key/${orderId}`)).body).toEqual(key.body);
      expect((await api(sim, 'GET', `/v1/order/details/${orderId}`)).body.status).toBe('complete');
      expect((await control(sim, 'GET', '/__sim/orders')).body.orders[0]).toMatchObject({
        status: 'complete',
        keyDelivered: true,
      });
    });

    it('refuses orders above max_price, out of stock, unknown or malformed', async () => {
      const sim = simulator();
      const product = await inStockProduct(sim);
      const tooCheap = await api(sim, 'POST', '/v1/order', {
        product_id: product.id,
        max_price: product.minPrice - 0.01,
      });
      expect(tooCheap).toMatchObject({ status: 400, body: { status: 'ERROR', code: 'ORD06' } });
      expect((await api(sim, 'POST', '/v1/order', { product_id: product.id, max_price: 0 })).status).toBe(
        200,
      );

      await control(sim, 'POST', `/__sim/products/${product.id}`, { qty: 0 });
      expect(await api(sim, 'POST', '/v1/order', { product_id: product.id })).toMatchObject({
        status: 400,
        body: { code: 'ORD01' },
      });
      expect((await api(sim, 'POST', '/v1/order', { product_id: '12345678901234' })).status).toBe(404);
      expect((await api(sim, 'POST', '/v1/order', { product_id: 12 })).status).toBe(400);
      expect((await api(sim, 'PUT', '/v1/order/pay/1')).status).toBe(404);
      expect((await api(sim, 'GET', '/v1/order/key/1')).body.code).toBe('ORD02');
      const invalidJson = await sim.app.inject({
        method: 'POST',
        url: '/v1/order',
        headers: { authorization: AUTHORIZATION, 'content-type': 'application/json' },
        payload: '{nope',
      });
      expect(invalidJson.json()).toMatchObject({ status: 'ERROR', code: 'BR01' });
    });

    it.each([
      ['out_of_stock', 'POST', 400],
      ['price_too_high', 'POST', 400],
      ['payment', 'PUT', 403],
    ] as const)('orderFailure %s refuses the %s with %i', async (orderFailure, failingMethod, status) => {
      const sim = simulator();
      const product = await inStockProduct(sim);
      await control(sim, 'POST', '/__sim/faults', { orderFailure });
      const created = await api(sim, 'POST', '/v1/order', { product_id: product.id, max_price: 1000 });
      if (failingMethod === 'POST') {
        expect(created).toMatchObject({ status, body: { status: 'ERROR' } });
        expect((await control(sim, 'GET', '/__sim/orders')).body.orders).toEqual([]);
        return;
      }
      const paid = await api(sim, 'PUT', `/v1/order/pay/${created.body.order_id}`);
      expect(paid).toMatchObject({ status, body: { status: 'ERROR', code: 'ORD112' } });
      expect((await control(sim, 'GET', '/__sim/orders')).body.orders[0]).toMatchObject({ paid: false });
    });
  });

  describe('faults', () => {
    it('answers 429 BR03 with Retry-After past the rate; control endpoints stay open', async () => {
      const clock = manualClock();
      const sim = simulator({ ratePerMinute: 3, now: clock.now });
      for (let request = 0; request < 3; request++) {
        expect((await api(sim, 'GET', '/v1/products')).status).toBe(200);
      }
      clock.advance(20_000);
      const limited = await api(sim, 'GET', '/v1/products');
      expect(limited).toMatchObject({
        status: 429,
        body: { status: 'ERROR', code: 'BR03', message: 'Too many requests' },
      });
      expect(limited.headers['retry-after']).toBe('40');
      expect((await control(sim, 'GET', '/__sim/orders')).status).toBe(200);
      expect((await control(sim, 'GET', '/__sim/stats')).body).toMatchObject({ rateLimited: 1 });

      clock.advance(40_000);
      expect((await api(sim, 'GET', '/v1/products')).status).toBe(200);
    });

    it('scales the limit to a shorter window and lifts it with ratePerMinute 0', async () => {
      const clock = manualClock();
      const sim = simulator({ now: clock.now });
      await control(sim, 'POST', '/__sim/faults', { ratePerMinute: 120, rateWindowMs: 1_000 });
      expect((await api(sim, 'GET', '/v1/products')).status).toBe(200);
      expect((await api(sim, 'GET', '/v1/products')).status).toBe(200);
      const limited = await api(sim, 'GET', '/v1/products');
      expect(limited.status).toBe(429);
      expect(limited.headers['retry-after']).toBe('1');
      await control(sim, 'POST', '/__sim/faults', { ratePerMinute: 0 });
      for (let request = 0; request < 20; request++) {
        expect((await api(sim, 'GET', '/v1/products')).status).toBe(200);
      }
    });

    it('injects 5xx at errorRate, never on control endpoints', async () => {
      const sim = simulator();
      await control(sim, 'POST', '/__sim/faults', { errorRate: 1 });
      const failed = await api(sim, 'GET', '/v1/products');
      expect(failed.status).toBeGreaterThanOrEqual(500);
      expect(failed.body).toMatchObject({ status: 'ERROR' });
      expect((await control(sim, 'GET', '/__sim/orders')).status).toBe(200);

      await control(sim, 'POST', '/__sim/faults', { errorRate: 0.5 });
      const statuses = [];
      for (let request = 0; request < 40; request++)
        statuses.push((await api(sim, 'GET', '/v1/products')).status);
      expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(5);
      expect(statuses.filter((status) => status >= 500).length).toBeGreaterThan(5);
    });

    it('counts requests per route', async () => {
      const sim = simulator();
      await api(sim, 'GET', '/v1/products');
      await api(sim, 'PUT', '/v1/order/pay/1');
      expect((await control(sim, 'GET', '/__sim/stats')).body).toMatchObject({
        requests: 2,
        byRoute: { 'GET /v1/products': 1, 'PUT /v1/order/pay/:id': 1 },
      });
    });
  });

  describe('webhook', () => {
    it('pushes a signed completion once the key is ready', async () => {
      const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
      const receiver = createServer((request, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          received.push({ headers: request.headers, body });
          response.writeHead(202).end();
        });
      });
      servers.push(receiver);
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      const { port } = receiver.address() as AddressInfo;

      const secret = 'webhook-secret';
      const sim = simulator({ webhook: { url: `http://127.0.0.1:${port}/api/v1/webhooks/g2a`, secret } });
      const product = ((await api(sim, 'GET', '/v1/products?page=1')).body.docs as G2AProduct[])[0]!;
      const orderId = (await api(sim, 'POST', '/v1/order', { product_id: product.id })).body
        .order_id as string;
      await api(sim, 'PUT', `/v1/order/pay/${orderId}`);

      const deadline = Date.now() + 5_000;
      while (received.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 20));
      expect(received).toHaveLength(1);
      const [push] = received;
      const timestamp = push!.headers['x-g2a-timestamp'] as string;
      expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(300);
      expect(push!.headers['x-g2a-signature']).toBe(
        createHmac('sha256', secret).update(`${timestamp}.${push!.body}`).digest('hex'),
      );
      const key = (await api(sim, 'GET', `/v1/order/key/${orderId}`)).body.key;
      expect(JSON.parse(push!.body)).toEqual({
        eventId: expect.any(String),
        orderId,
        status: 'complete',
        key,
      });
    });
  });
});
