import type { FastifyPluginAsyncTypebox, TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { G2AWebhookInput, G2AWebhookOutcome } from '../../../application/accept-g2a-webhook.js';
import type { FulfilmentSummary } from '../../../ports/fulfilment.js';
import type { Logger } from '../../../ports/logger.js';
import { errors, Uuid } from '../schemas.js';

export interface FulfilmentUseCases {
  getFulfilmentSummary(): Promise<FulfilmentSummary>;
  acceptG2AWebhook(input: G2AWebhookInput, log?: Logger): Promise<G2AWebhookOutcome>;
}

const UnitState = Type.Union([
  Type.Literal('pending'),
  Type.Literal('ordered'),
  Type.Literal('paid'),
  Type.Literal('delivered'),
  Type.Literal('failed'),
  Type.Literal('refunded'),
]);

const Summary = Type.Object({
  byState: Type.Record(Type.String(), Type.Integer(), { description: 'Units by state' }),
  oldestOpen: Type.Union([
    Type.Object({ unitId: Uuid, orderId: Uuid, state: UnitState, ageSeconds: Type.Integer() }),
    Type.Null(),
  ]),
  flagged: Type.Array(
    Type.Object({
      unitId: Uuid,
      orderId: Uuid,
      g2aOrderId: Type.Union([Type.String(), Type.Null()]),
      state: UnitState,
      reason: Type.Union([Type.String(), Type.Null()]),
      flaggedAt: Type.String({ format: 'date-time' }),
    }),
    { description: 'Units on their way that an operator should look at (oldest flag first)' },
  ),
});

export const fulfilmentRoutes: FastifyPluginAsyncTypebox<{ useCases: FulfilmentUseCases }> = async (
  app,
  { useCases },
) => {
  app.get(
    '/admin/fulfilment',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Fulfilment at a glance: units by state, the oldest unit on its way, flagged units',
        security: [{ bearerAuth: [] }],
        response: { 200: Summary, ...errors(401, 403) },
      },
    },
    async () => {
      const summary = await useCases.getFulfilmentSummary();
      return {
        ...summary,
        flagged: summary.flagged.map((unit) => ({ ...unit, flaggedAt: unit.flaggedAt.toISOString() })),
      };
    },
  );

  // The signature covers the body's bytes: this route reads them as they came, not re-encoded JSON.
  await app.register(async (plugin) => {
    const webhooks = plugin.withTypeProvider<TypeBoxTypeProvider>();
    webhooks.removeContentTypeParser('application/json');
    webhooks.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
      done(null, body),
    );
    webhooks.post(
      '/webhooks/g2a',
      {
        schema: {
          tags: ['webhooks'],
          summary: 'A G2A order notification (signed); it hurries fulfilment of that order along',
          description:
            '`X-G2A-Signature` is the lowercase hex HMAC-SHA256 of `X-G2A-Timestamp + "." + body` with ' +
            'G2A_WEBHOOK_SECRET; the timestamp (Unix seconds) must be within 5 minutes. A duplicate event id, ' +
            'or an event for an order the shop does not hold yet, is accepted (202) without a second effect.',
          headers: Type.Object({
            'x-g2a-timestamp': Type.Optional(Type.String({ maxLength: 20 })),
            'x-g2a-signature': Type.Optional(Type.String({ maxLength: 200 })),
          }),
          body: Type.String({ description: '`{eventId, orderId (G2A order id), status, key?}` as JSON' }),
          response: {
            202: Type.Object({
              status: Type.Union([
                Type.Literal('accepted'),
                Type.Literal('duplicate'),
                Type.Literal('early'),
              ]),
            }),
            ...errors(400, 401, 413, 415),
          },
        },
      },
      async (request, reply) => {
        const status = await useCases.acceptG2AWebhook(
          {
            timestamp: request.headers['x-g2a-timestamp'],
            signature: request.headers['x-g2a-signature'],
            rawBody: request.body,
          },
          request.log,
        );
        return reply.status(202).send({ status });
      },
    );
  });
};
