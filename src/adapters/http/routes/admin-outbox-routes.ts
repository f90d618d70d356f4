import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { OutboxMonitor } from '../../../ports/outbox.js';
import { errors } from '../schemas.js';

const Backlog = Type.Object({
  pending: Type.Integer(),
  failed: Type.Integer({ description: 'Dead rows: retries exhausted, kept for inspection' }),
  oldestPendingAgeSeconds: Type.Union([Type.Number(), Type.Null()]),
  byTopic: Type.Array(
    Type.Object({
      topic: Type.String(),
      pending: Type.Integer(),
      failed: Type.Integer(),
      oldestPendingAgeSeconds: Type.Union([Type.Number(), Type.Null()]),
    }),
  ),
  recentFailed: Type.Array(
    Type.Object({
      id: Type.String(),
      topic: Type.String(),
      attempts: Type.Integer(),
      lastError: Type.Union([Type.String(), Type.Null()]),
      createdAt: Type.String({ format: 'date-time' }),
    }),
  ),
});

export const adminOutboxRoutes: FastifyPluginAsyncTypebox<{ outbox: OutboxMonitor }> = async (
  app,
  { outbox },
) => {
  app.get(
    '/admin/outbox',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Outbox backlog: pending, failed and the age of the oldest pending row',
        security: [{ bearerAuth: [] }],
        response: { 200: Backlog, ...errors(401, 403) },
      },
    },
    async () => {
      const backlog = await outbox.backlog();
      return {
        pending: backlog.pending,
        failed: backlog.dead,
        oldestPendingAgeSeconds: backlog.oldestPendingAgeSeconds,
        byTopic: backlog.byTopic.map((t) => ({
          topic: t.topic,
          pending: t.pending,
          failed: t.dead,
          oldestPendingAgeSeconds: t.oldestPendingAgeSeconds,
        })),
        recentFailed: backlog.recentDead.map((r) => ({ ...r, createdAt: r.createdAt.toISOString() })),
      };
    },
  );
};
