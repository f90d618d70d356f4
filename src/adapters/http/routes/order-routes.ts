import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { GetOrderInput } from '../../../application/get-order.js';
import type { ListOrdersInput } from '../../../application/list-orders.js';
import type { OrderView, LedgerEntryView } from '../../../application/order-views.js';
import type { PlaceOrderInput, PlaceOrderOutput } from '../../../application/place-order.js';
import type { Page } from '../../../domain/game.js';
import type { Logger } from '../../../ports/logger.js';
import {
  IdempotencyHeaders,
  LedgerPageSchema,
  OrderIdParams,
  OrderPageSchema,
  OrderRef,
  PlaceOrderBody,
} from '../order-schemas.js';
import { errors, noBodyIsEmpty, OPTIONAL_BODY, pageOf, Pagination } from '../schemas.js';
import { sendJson } from '../send-json.js';

export interface OrderUseCases {
  placeOrder(input: PlaceOrderInput, log?: Logger): Promise<PlaceOrderOutput>;
  listOrders(input: ListOrdersInput): Promise<Page<OrderView>>;
  getOrder(input: GetOrderInput): Promise<OrderView>;
  listTransactions(input: { userId: string; page: number; pageSize: number }): Promise<Page<LedgerEntryView>>;
}

const userSecurity = [{ bearerAuth: [] }];

export const orderRoutes: FastifyPluginAsyncTypebox<{ useCases: OrderUseCases }> = async (
  app,
  { useCases },
) => {
  app.post(
    '/orders',
    {
      onRequest: app.requireUser,
      // No body at all orders the cart, as `{}` does (a JSON `null` is a body, and refused).
      preValidation: noBodyIsEmpty,
      schema: {
        [OPTIONAL_BODY]: true,
        tags: ['orders'],
        summary: 'Check out the cart (or the given items), paid from the wallet',
        description:
          'Prices are the current ones, the prices the cart shows. Without a body (or with `{}`) the cart is ' +
          'ordered, and its ordered lines leave it; an explicit ' +
          '`items` list leaves the cart alone. A replay with the same Idempotency-Key and body answers the first ' +
          'response byte for byte; a refusal (402, 409, 422) changes nothing and may be retried with its key.',
        security: userSecurity,
        headers: IdempotencyHeaders,
        body: PlaceOrderBody,
        response: { 201: OrderRef, ...errors(400, 401, 402, 404, 409, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const placed = await useCases.placeOrder(
        {
          userId: request.user.sub,
          idempotencyKey: request.headers['idempotency-key'],
          ...(request.body?.items ? { items: request.body.items } : {}),
        },
        request.log,
      );
      if (placed.replayed) void reply.header('idempotent-replayed', 'true');
      // The stored response of the first request: a checkout answers 201.
      return sendJson(reply.status(placed.status as 201), placed.body);
    },
  );

  app.get(
    '/orders',
    {
      onRequest: app.requireUser,
      schema: {
        tags: ['orders'],
        summary: 'Your orders, newest first',
        security: userSecurity,
        querystring: Pagination,
        response: { 200: OrderPageSchema, ...errors(400, 401) },
      },
    },
    async (request) => useCases.listOrders({ userId: request.user.sub, ...pageOf(request.query) }),
  );

  app.get(
    '/orders/:id',
    {
      onRequest: app.requireUser,
      schema: {
        tags: ['orders'],
        summary: 'One of your orders, with the keys delivered so far',
        security: userSecurity,
        params: OrderIdParams,
        response: { 200: OrderRef, ...errors(400, 401, 404) },
      },
    },
    async (request) => useCases.getOrder({ userId: request.user.sub, orderId: request.params.id }),
  );

  app.get(
    '/transactions',
    {
      onRequest: app.requireUser,
      schema: {
        tags: ['account'],
        summary:
          'Your wallet ledger, newest first: top-ups, purchases and refunds with the balance after each',
        security: userSecurity,
        querystring: Pagination,
        response: { 200: LedgerPageSchema, ...errors(400, 401) },
      },
    },
    async (request) => useCases.listTransactions({ userId: request.user.sub, ...pageOf(request.query) }),
  );
};
