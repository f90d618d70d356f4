import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';

export type CheckStatus = 'ok' | 'down' | 'disabled';

export interface HealthChecks {
  postgres(): Promise<boolean>;
  redis(): Promise<CheckStatus>;
  queue(): Promise<boolean>;
}

const CHECK_TIMEOUT_MS = 1_000;

async function bounded<T>(check: () => Promise<T>, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      check(),
      new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), CHECK_TIMEOUT_MS))),
    ]);
  } catch {
    return fallback;
  } finally {
    clearTimeout(timer);
  }
}

const Check = Type.Union([Type.Literal('ok'), Type.Literal('down'), Type.Literal('disabled')]);
const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded'), Type.Literal('down')]),
  checks: Type.Object({ postgres: Check, redis: Check, queue: Check }),
});

export const healthRoutes: FastifyPluginAsyncTypebox<{ checks: HealthChecks }> = async (app, { checks }) => {
  app.get(
    '/health',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/ready',
    {
      schema: {
        tags: ['operations'],
        summary: 'Readiness: Postgres down is 503; Redis down is degraded but ready',
        response: { 200: Readiness, 503: Readiness },
      },
    },
    async (_request, reply) => {
      const [postgres, redis, queue] = await Promise.all([
        bounded(() => checks.postgres(), false),
        bounded(() => checks.redis(), 'down' as const),
        bounded(() => checks.queue(), false),
      ]);
      const result = {
        checks: {
          postgres: postgres ? ('ok' as const) : ('down' as const),
          redis,
          queue: queue ? ('ok' as const) : ('down' as const),
        },
      };
      if (!postgres) return reply.status(503).send({ status: 'down', ...result });
      const degraded = redis === 'down' || !queue;
      return { status: degraded ? ('degraded' as const) : ('ok' as const), ...result };
    },
  );
};
