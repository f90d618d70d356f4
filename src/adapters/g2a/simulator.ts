import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { Agent } from 'undici';
import type { Logger } from '../../ports/logger.js';
import { g2aAuthorizationHeader } from './g2a-auth.js';
import {
  SIMULATOR_DEV_API_HASH,
  SIMULATOR_DEV_API_SECRET,
  SIMULATOR_DEV_EMAIL,
} from './simulator-defaults.js';
import {
  G2ASimulatorState,
  type ProductListQuery,
  type SimulatedOrder,
  type SimulatorOutcome,
  type SimulatorRefusal,
} from './simulator-state.js';

export interface G2ASimulatorOptions {
  /** Size of the seeded catalogue (default 500). */
  products?: number;
  /** Seed of the catalogue and of the fault dice (default 1). */
  seed?: number;
  apiHash?: string;
  apiSecret?: string;
  email?: string;
  /** API requests admitted per minute (default 600); 0 means no limit. */
  ratePerMinute?: number;
  /**
   * When set, every paid order's key is also pushed here, signed, once it is ready. `url` may be left out and
   * given later as the `webhookUrl` fault.
   */
  webhook?: { url?: string; secret: string };
  logger?: Logger;
  /** The simulator's clock (ms): key delays, rate windows and timestamps read it. */
  now?: () => number;
}

export interface G2ASimulator {
  app: FastifyInstance;
  state: G2ASimulatorState;
  /** Starts listening and returns the base URL (scheme and host, without `/v1`). */
  listen(port?: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

const WEBHOOK_TIMEOUT_MS = 5_000;

type QueryValue = string | string[] | undefined;

class QueryError extends Error {}

function single(value: QueryValue): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function optionalNumber(name: string, value: QueryValue, integer = false): number | undefined {
  const raw = single(value);
  if (raw === undefined || raw === '') return undefined;
  const parsed = Number(raw);
  if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed))) {
    throw new QueryError(`Invalid ${name}`);
  }
  return parsed;
}

function parseProductQuery(query: Record<string, QueryValue>): ProductListQuery {
  const page = optionalNumber('page', query.page, true) ?? 1;
  if (page < 1) throw new QueryError('Invalid page');
  const includeOutOfStock = single(query.includeOutOfStock);
  return {
    page,
    id: single(query.id) || undefined,
    includeOutOfStock: includeOutOfStock === 'true' || includeOutOfStock === '1',
    minQty: optionalNumber('minQty', query.minQty, true),
    minPriceFrom: optionalNumber('minPriceFrom', query.minPriceFrom),
    minPriceTo: optionalNumber('minPriceTo', query.minPriceTo),
    updatedAtFrom: single(query.updatedAtFrom) || undefined,
    updatedAtTo: single(query.updatedAtTo) || undefined,
  };
}

function sendRefusal(reply: FastifyReply, { httpStatus, code, message }: SimulatorRefusal): FastifyReply {
  return reply.code(httpStatus).send({ status: 'ERROR', code, message });
}

function sameSecret(actual: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(actual), digest(expected));
}

function baseUrlFor(address: AddressInfo): string {
  const host =
    address.address === '0.0.0.0' ? '127.0.0.1' : address.address === '::' ? '[::1]' : address.address;
  return `http://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${address.port}`;
}

const ProductPatchBody = Type.Object(
  {
    minPrice: Type.Optional(Type.Number({ minimum: 0 })),
    qty: Type.Optional(Type.Integer({ minimum: 0 })),
    availableToBuy: Type.Optional(Type.Boolean()),
    listed: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const AddProductsBody = Type.Object(
  { count: Type.Integer({ minimum: 1, maximum: 100_000 }) },
  { additionalProperties: false },
);

const FaultsBody = Type.Object(
  {
    errorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    ratePerMinute: Type.Optional(Type.Integer({ minimum: 0 })),
    rateWindowMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
    keyDelayMs: Type.Optional(Type.Integer({ minimum: 0 })),
    orderFailure: Type.Optional(
      Type.Union([
        Type.Literal('none'),
        Type.Literal('out_of_stock'),
        Type.Literal('price_too_high'),
        Type.Literal('payment'),
      ]),
    ),
    webhookUrl: Type.Optional(Type.Union([Type.String({ format: 'uri', maxLength: 2000 }), Type.Null()])),
  },
  { additionalProperties: false },
);

const ProductIdParams = Type.Object({ id: Type.String() });
const OrderIdParams = Type.Object({ id: Type.String() });

const CreateOrderBody = Type.Object({
  product_id: Type.String({ minLength: 1 }),
  max_price: Type.Optional(Type.Number({ minimum: 0 })),
  currency: Type.Optional(Type.String({ pattern: '^[A-Za-z]{3}$' })),
  min_rating: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
});

/**
 * A G2A Export API look-alike: the same paths, auth header, paging, error bodies and 429s as G2A, a seeded
 * catalogue, injectable faults and `/__sim/*` control endpoints (no auth, no faults, no rate limit).
 */
export function createG2ASimulator(options: G2ASimulatorOptions = {}): G2ASimulator {
  const expectedAuthorization = g2aAuthorizationHeader(
    options.apiHash ?? SIMULATOR_DEV_API_HASH,
    options.email ?? SIMULATOR_DEV_EMAIL,
    options.apiSecret ?? SIMULATOR_DEV_API_SECRET,
  );
  const logger = options.logger?.child({ component: 'g2a-simulator' });
  const now = options.now ?? Date.now;
  const state = new G2ASimulatorState({
    productCount: options.products ?? 500,
    seed: options.seed ?? 1,
    ratePerMinute: options.ratePerMinute ?? 600,
    now,
  });
  const webhook = options.webhook && {
    url: options.webhook.url === undefined ? undefined : new URL(options.webhook.url),
    secret: options.webhook.secret,
  };
  const webhookTimers = new Set<NodeJS.Timeout>();
  const webhookAgent = webhook ? new Agent({ keepAliveTimeout: 1_000 }) : undefined;

  const app = Fastify({
    logger: false,
    ajv: { customOptions: { coerceTypes: false } },
  });

  // G2A accepts PUT with an empty JSON body; Fastify's own parser would refuse it.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(Object.assign(new Error('Invalid JSON'), { statusCode: 400, code: 'BR01' }), undefined);
    }
  });

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const httpStatus = error.validation ? 400 : (error.statusCode ?? 500);
    if (httpStatus < 500) {
      const code = error.code === 'BR01' ? 'BR01' : 'BR02';
      return sendRefusal(reply, { httpStatus, code, message: error.message });
    }
    logger?.error({ err: error.message }, 'simulator error');
    return sendRefusal(reply, { httpStatus: 500, code: 'SIM500', message: 'Internal error' });
  });

  app.setNotFoundHandler((_request, reply) =>
    sendRefusal(reply, { httpStatus: 404, code: 'NOT_FOUND', message: 'Route not found' }),
  );

  const answer = <T>(reply: FastifyReply, outcome: SimulatorOutcome<T>, toBody: (value: T) => unknown) =>
    'refusal' in outcome ? sendRefusal(reply, outcome.refusal) : reply.send(toBody(outcome.ok));

  async function pushWebhook(orderId: string): Promise<void> {
    const order = state.findOrder(orderId);
    if (!webhook?.url || !webhookAgent || order?.key === undefined) return;
    const rawBody = JSON.stringify({ eventId: randomUUID(), orderId, status: 'complete', key: order.key });
    const timestamp = String(Math.floor(now() / 1000));
    const signature = createHmac('sha256', webhook.secret).update(`${timestamp}.${rawBody}`).digest('hex');
    try {
      const response = await webhookAgent.request({
        origin: webhook.url.origin,
        path: `${webhook.url.pathname}${webhook.url.search}`,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-g2a-timestamp': timestamp,
          'x-g2a-signature': signature,
        },
        body: rawBody,
        headersTimeout: WEBHOOK_TIMEOUT_MS,
        bodyTimeout: WEBHOOK_TIMEOUT_MS,
      });
      await response.body.dump();
      const delivered = response.statusCode >= 200 && response.statusCode < 300;
      if (delivered) state.markKeyDelivered(orderId);
      logger?.info({ orderId, httpStatus: response.statusCode, delivered }, 'webhook pushed');
    } catch (error) {
      logger?.warn({ orderId, err: (error as Error).message }, 'webhook push failed');
    }
  }

  function scheduleWebhook(order: SimulatedOrder): void {
    if (!webhook?.url) return;
    const timer = setTimeout(
      () => {
        webhookTimers.delete(timer);
        void pushWebhook(order.orderId);
      },
      Math.max(0, (order.keyReadyAt ?? 0) - now()),
    );
    timer.unref();
    webhookTimers.add(timer);
  }

  function clearWebhookTimers(): void {
    for (const timer of webhookTimers) clearTimeout(timer);
    webhookTimers.clear();
  }

  const apiRoutes: FastifyPluginAsyncTypebox = async (api) => {
    api.addHook('onRequest', async (request, reply) => {
      state.countRequest(`${request.method} ${request.routeOptions.url ?? request.url}`);
      const authorization = request.headers.authorization;
      if (!authorization) {
        return sendRefusal(reply, { httpStatus: 403, code: 'AUTH01', message: 'No Authorization header' });
      }
      if (!sameSecret(authorization, expectedAuthorization)) {
        return sendRefusal(reply, { httpStatus: 401, code: 'AUTH02', message: 'Authorization failed' });
      }
      const retryAfterSeconds = state.admitRequest();
      if (retryAfterSeconds !== undefined) {
        reply.header('retry-after', String(retryAfterSeconds));
        return sendRefusal(reply, { httpStatus: 429, code: 'BR03', message: 'Too many requests' });
      }
      const injectedStatus = state.injectError();
      if (injectedStatus !== undefined) {
        return sendRefusal(reply, {
          httpStatus: injectedStatus,
          code: 'SIM500',
          message: 'Injected failure',
        });
      }
    });

    // The delay comes after processing, as with a slow G2A: a caller that times out cannot tell
    // whether its order or payment went through.
    api.addHook('onSend', async () => {
      const { latencyMs } = state.faults;
      if (latencyMs > 0) await sleep(latencyMs);
    });

    api.get('/v1/products', async (request, reply) => {
      let query: ProductListQuery;
      try {
        query = parseProductQuery(request.query as Record<string, QueryValue>);
      } catch (error) {
        if (!(error instanceof QueryError)) throw error;
        return sendRefusal(reply, { httpStatus: 400, code: 'BR02', message: error.message });
      }
      return state.listProducts(query);
    });

    api.post('/v1/order', { schema: { body: CreateOrderBody } }, async (request, reply) => {
      const { product_id: productId, max_price: maxPrice, currency } = request.body;
      return answer(
        reply,
        state.createOrder({ productId, maxPrice, currency: currency?.toUpperCase() }),
        (order) => ({
          order_id: order.orderId,
          price: order.price,
          currency: order.currency,
        }),
      );
    });

    api.put('/v1/order/pay/:id', { schema: { params: OrderIdParams } }, async (request, reply) => {
      const alreadyPaid = state.findOrder(request.params.id)?.paid === true;
      const outcome = state.payOrder(request.params.id);
      if ('ok' in outcome && !alreadyPaid) scheduleWebhook(outcome.ok);
      return answer(reply, outcome, (order) => ({ status: true, transaction_id: order.transactionId }));
    });

    api.get('/v1/order/details/:id', { schema: { params: OrderIdParams } }, async (request, reply) =>
      answer(reply, state.orderDetails(request.params.id), (details) => details),
    );

    api.get('/v1/order/key/:id', { schema: { params: OrderIdParams } }, async (request, reply) =>
      answer(reply, state.orderKey(request.params.id), (key) => key),
    );
  };

  const controlRoutes: FastifyPluginAsyncTypebox = async (control) => {
    control.post(
      '/__sim/products/:id',
      { schema: { params: ProductIdParams, body: ProductPatchBody } },
      async (request, reply) => {
        const product = state.updateProduct(request.params.id, request.body);
        if (!product)
          return sendRefusal(reply, { httpStatus: 404, code: 'NOT_FOUND', message: 'Unknown product' });
        return { ...product, listed: state.isListed(product.id) };
      },
    );

    control.post('/__sim/products', { schema: { body: AddProductsBody } }, async (request) => {
      const ids = state.addProducts(request.body.count);
      return { added: ids.length, ids, total: state.productCount };
    });

    control.delete('/__sim/products/:id', { schema: { params: ProductIdParams } }, async (request, reply) => {
      if (!state.removeProduct(request.params.id)) {
        return sendRefusal(reply, { httpStatus: 404, code: 'NOT_FOUND', message: 'Unknown product' });
      }
      return { removed: true, id: request.params.id };
    });

    control.get('/__sim/faults', async () => ({
      ...state.faults,
      webhookUrl: webhook?.url?.toString() ?? null,
    }));
    control.post('/__sim/faults', { schema: { body: FaultsBody } }, async (request, reply) => {
      const { webhookUrl, ...faults } = request.body;
      if (webhookUrl !== undefined) {
        if (!webhook) {
          return sendRefusal(reply, {
            httpStatus: 400,
            code: 'BR02',
            message: 'webhookUrl needs a webhook secret (G2A_WEBHOOK_SECRET) to sign the pushes',
          });
        }
        webhook.url = webhookUrl === null ? undefined : new URL(webhookUrl);
      }
      return { ...state.setFaults(faults), webhookUrl: webhook?.url?.toString() ?? null };
    });

    control.post('/__sim/reset', async () => {
      clearWebhookTimers();
      state.reset();
      return { reset: true };
    });

    control.get('/__sim/orders', async () => ({ orders: state.listOrders() }));
    control.get('/__sim/stats', async () => state.stats);
  };

  void app.register(apiRoutes);
  void app.register(controlRoutes);

  return {
    app,
    state,
    async listen(port = 0, host = '127.0.0.1') {
      await app.listen({ port, host });
      return baseUrlFor(app.server.address() as AddressInfo);
    },
    async close() {
      clearWebhookTimers();
      await app.close();
      await webhookAgent?.close();
    },
  };
}
