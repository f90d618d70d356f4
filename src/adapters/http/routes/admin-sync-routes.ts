import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { TriggerOutcome } from '../../../application/trigger-sync.js';
import type { SyncKind, SyncRun } from '../../../domain/sync-run.js';
import type { Logger } from '../../../ports/logger.js';
import { errors } from '../schemas.js';

export interface SyncUseCases {
  triggerSync(kind: SyncKind, log?: Logger): Promise<TriggerOutcome>;
  getSyncStatus(): Promise<{ runs: SyncRun[] }>;
}

const Run = Type.Object({
  runId: Type.String({ format: 'uuid' }),
  kind: Type.Union([Type.Literal('catalog'), Type.Literal('stock')]),
  status: Type.Union([
    Type.Literal('queued'),
    Type.Literal('running'),
    Type.Literal('finished'),
    Type.Literal('failed'),
    Type.Literal('skipped'),
  ]),
  trigger: Type.Union([Type.Literal('manual'), Type.Literal('schedule')]),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  progress: Type.Object({
    pagesDone: Type.Integer(),
    pagesTotal: Type.Integer(),
    upserted: Type.Integer(),
    changed: Type.Integer(),
  }),
  error: Type.Union([Type.String(), Type.Null()]),
});

export const adminSyncRoutes: FastifyPluginAsyncTypebox<{ useCases: SyncUseCases }> = async (
  app,
  { useCases },
) => {
  for (const kind of ['catalog', 'stock'] as const) {
    app.post(
      `/admin/sync/${kind}`,
      {
        onRequest: app.requireAdmin,
        schema: {
          tags: ['admin'],
          summary:
            kind === 'catalog'
              ? 'Start a full catalogue sync from G2A (409 while any sync is queued or running)'
              : 'Start a stock and price check (409 while any sync is queued or running)',
          security: [{ bearerAuth: [] }],
          response: {
            202: Type.Object({ runId: Type.String({ format: 'uuid' }), resumed: Type.Boolean() }),
            ...errors(401, 403, 409),
          },
        },
      },
      async (request, reply) => {
        const result = await useCases.triggerSync(kind, request.log);
        return reply.status(202).send({ runId: result.runId, resumed: result.outcome === 'resumed' });
      },
    );
  }

  app.get(
    '/admin/sync/status',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['admin'],
        summary: 'Current and recent sync runs, newest first, with progress',
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Object({ runs: Type.Array(Run) }), ...errors(401, 403) },
      },
    },
    async () => {
      const { runs } = await useCases.getSyncStatus();
      return {
        runs: runs.map((run) => ({
          runId: run.runId,
          kind: run.kind,
          status: run.status,
          trigger: run.trigger,
          startedAt: run.startedAt?.toISOString() ?? null,
          finishedAt: run.finishedAt?.toISOString() ?? null,
          progress: run.progress,
          error: run.error,
        })),
      };
    },
  );
};
