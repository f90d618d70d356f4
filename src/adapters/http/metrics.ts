import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { DomainError } from '../../domain/errors.js';

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Sign-ups and sign-ins by route, whose outcomes are counted for operators. */
const AUTH_ACTIONS = new Map([
  ['/api/v1/auth/register', 'signup'],
  ['/api/v1/auth/login', 'login'],
  ['/api/v1/auth/refresh', 'refresh'],
]);

function authOutcome(status: number): string {
  if (status < 300) return 'ok';
  if (status === 401) return 'rejected';
  if (status === 409) return 'conflict';
  if (status === 429) return 'rate_limited';
  return status < 500 ? 'invalid' : 'error';
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Request duration by route pattern (never the raw URL: ids would explode the label space), the outcomes of
 * sign-ups and sign-ins, and `GET /metrics`, behind `Authorization: Bearer {token}` when a token is set.
 */
export function registerMetrics(
  app: FastifyInstance,
  registry: Registry,
  options: { token?: string } = {},
): void {
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5],
    registers: [registry],
  });
  const auth = new Counter({
    name: 'keyshop_auth_attempts_total',
    help: 'Sign-ups, sign-ins and token refreshes by outcome (ok, rejected, conflict, rate_limited, invalid, error)',
    labelNames: ['action', 'outcome'],
    registers: [registry],
  });
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    duration.observe({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
    const action = request.method === 'POST' ? AUTH_ACTIONS.get(route) : undefined;
    if (action) auth.inc({ action, outcome: authOutcome(reply.statusCode) });
    done();
  });
  const expected = options.token === undefined ? undefined : digest(`Bearer ${options.token}`);
  const allowed = (request: FastifyRequest) =>
    expected === undefined || timingSafeEqual(digest(request.headers.authorization ?? ''), expected);
  app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
    if (!allowed(request))
      throw new DomainError('UNAUTHORIZED', 'GET /metrics needs the metrics token (METRICS_TOKEN)');
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
