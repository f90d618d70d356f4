import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { OrderView } from '../../../application/order-views.js';
import type { RefundOrderInput } from '../../../application/refund-order.js';
import type { TopUpWalletInput, TopUpWalletOutput } from '../../../application/top-up-wallet.js';
import type { Logger } from '../../../ports/logger.js';
import { AdminOrderSchema, OrderIdParams, RefundBody, TopUpBody, TopUpSchema } from '../order-schemas.js';
import { errors, noBodyIsEmpty, OPTIONAL_BODY, Uuid } from '../schemas.js';

export interface AdminWalletUseCases {
  topUpWallet(input: TopUpWalletInput, log?: Logger): Promise<TopUpWalletOutput>;
  refundOrder(input: RefundOrderInput, log?: Logger): Promise<OrderView & { userId: string }>;
}

const adminSecurity = [{ bearerAuth: [] }];

export const adminWalletRoutes: FastifyPluginAsyncTypebox<{ useCases: AdminWalletUseCases }> = async (
  app,
  { useCases },
) => {
  app.post(
    '/admin/users/:id/top-ups',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Credit a wallet (201; a replay of the reference answers the first entry with 200)',
        security: adminSecurity,
        params: Type.Object({ id: Uuid }),
        body: TopUpBody,
        response: { 200: TopUpSchema, 201: TopUpSchema, ...errors(400, 401, 403, 404, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const { entry, replayed } = await useCases.topUpWallet(
        { userId: request.params.id, ...request.body, actorId: request.user.sub },
        request.log,
      );
      return reply.status(replayed ? 200 : 201).send(entry);
    },
  );

  app.post(
    '/admin/orders/:id/refund',
    {
      onRequest: app.requireAdmin,
      // No body at all is `{}`: the undelivered units.
      preValidation: noBodyIsEmpty,
      schema: {
        [OPTIONAL_BODY]: true,
        tags: ['admin'],
        summary: 'Refund the undelivered units of an order (or, with `all`, every unit) to its wallet',
        security: adminSecurity,
        params: OrderIdParams,
        body: RefundBody,
        response: { 200: AdminOrderSchema, ...errors(400, 401, 403, 404, 413, 415) },
      },
    },
    async (request) =>
      useCases.refundOrder(
        { orderId: request.params.id, all: request.body.all ?? false, actorId: request.user.sub },
        request.log,
      ),
  );
};
