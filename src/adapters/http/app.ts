import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
} from 'fastify';
import type { Registry } from 'prom-client';
import type { Clock } from '../../ports/clock.js';
import type { OutboxMonitor } from '../../ports/outbox.js';
import type { GuestSessionRepository } from '../../ports/tokens.js';
import type { UserReader } from '../../ports/users.js';
import type { AttemptLimits } from './attempt-limits.js';
import { answerClientError, registerErrorHandlers, toErrorBody } from './errors.js';
import { securityHeaders } from './security-headers.js';
import { identityPlugin } from './identity.js';
import { lazyChildLogger } from './lazy-child-logger.js';
import { registerMetrics } from './metrics.js';
import { accountRoutes, type AccountUseCases } from './routes/account-routes.js';
import { adminOutboxRoutes } from './routes/admin-outbox-routes.js';
import { authRoutes, type AuthUseCases } from './routes/auth-routes.js';
import { cartRoutes, type CartUseCases } from './routes/cart-routes.js';
import { adminSyncRoutes, type SyncUseCases } from './routes/admin-sync-routes.js';
import { adminWalletRoutes, type AdminWalletUseCases } from './routes/admin-wallet-routes.js';
import { fulfilmentRoutes, type FulfilmentUseCases } from './routes/fulfilment-routes.js';
import { orderRoutes, type OrderUseCases } from './routes/order-routes.js';
import { catalogRoutes, GameSchema, type CatalogUseCases } from './routes/catalog-routes.js';
import { healthRoutes, type HealthChecks } from './routes/health-routes.js';
import { wishlistRoutes, type WishlistUseCases } from './routes/wishlist-routes.js';
import { OrderSchema } from './order-schemas.js';
import { ErrorResponse, OPTIONAL_BODY } from './schemas.js';
import { registerValidators } from './validation.js';

export const API_PREFIX = '/api/v1';
export const BODY_LIMIT_BYTES = 1024 * 1024;

export type UseCases = AuthUseCases &
  AccountUseCases &
  CatalogUseCases &
  SyncUseCases &
  CartUseCases &
  WishlistUseCases &
  OrderUseCases &
  AdminWalletUseCases &
  FulfilmentUseCases;

export interface HttpDeps {
  logger: FastifyBaseLogger | false;
  useCases: UseCases;
  outbox: OutboxMonitor;
  guestSessions: GuestSessionRepository;
  /** Accounts as stored, for the role of an admin request. */
  users: Pick<UserReader, 'findAccess'>;
  guestSessionTtlMs: number;
  clock: Clock;
  health: HealthChecks;
  metrics?: Registry;
  attemptLimits: AttemptLimits;
  /** The `store` for @fastify/rate-limit (Redis with a Postgres fallback); in-memory when absent. */
  rateLimitStore?: unknown;
  config: {
    trustProxy?: boolean | string;
    jwtSecret: string;
    accessTokenTtlSeconds: number;
    globalRateLimitPerMinute?: number;
    corsOrigin: string | boolean;
    publicUrl: string;
    metricsToken?: string;
  };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Query parameters whose values are secrets, by their decoded name: kept out of request logs. */
const SECRET_PARAMETER = /^(?:token|refresh_?token|access_?token|password|secret|key|signature)$/i;

function decodedName(name: string): string {
  try {
    return decodeURIComponent(name.replaceAll('+', ' ')).trim();
  } catch {
    return name;
  }
}

/**
 * A URL as a log may show it: the value of every parameter whose name decodes to a secret's (`?token=`, and
 * `?%74oken=`, which the query parser reads as the same) replaced.
 */
export function loggableUrl(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const pairs = url
    .slice(start + 1)
    .split('&')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const name = equals < 0 ? pair : pair.slice(0, equals);
      return SECRET_PARAMETER.test(decodedName(name)) ? `${name}=[redacted]` : pair;
    });
  return `${url.slice(0, start)}?${pairs.join('&')}`;
}

/** What the API reads and answers across origins (CORS). */
const CORS_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Content-Type',
  'X-Session-Id',
  'Idempotency-Key',
  'X-Request-Id',
];
const CORS_EXPOSED_HEADERS = ['X-Request-Id', 'Retry-After', 'Idempotent-Replayed'];

export async function buildApp(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Off, so that `genReqId` sees every request: with a header name set, Fastify takes any value it carries.
    requestIdHeader: false,
    // One line per request, written when it is answered (below), with secret query values redacted.
    logController: new LogController({ disableRequestLogging: true }),
    // The request's logger is made when it first writes a line at an enabled level.
    childLoggerFactory: (logger, bindings, options) => lazyChildLogger(logger, bindings, options),
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Long enough for every path parameter a route's schema allows (a slug of 200); longer is 414.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 256 },
    // Node would answer a request without Host with an empty 400 of its own; the hook below answers it.
    http: { requireHostHeader: false },
    trustProxy: deps.config.trustProxy ?? false,
    clientErrorHandler: answerClientError,
    // Errors Fastify raises before routing (a malformed URL) get the shared body and code too.
    frameworkErrors: (error, _request, reply) => {
      const body = toErrorBody(error);
      void (reply as FastifyReply).status(body.statusCode).send(body);
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: a text/plain body is 415, not a string that fails validation.
  app.removeContentTypeParser('text/plain');
  registerValidators(app);
  registerErrorHandlers(app);
  app.addSchema(ErrorResponse);
  app.addSchema(OrderSchema);
  // Shared schemas live at the root: one added in a plugin would give that plugin Fastify's own validator.
  app.addSchema(GameSchema);
  // The API answers JSON and is never framed or scripted: nothing may load from it.
  const apiHeaders = securityHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
      },
    },
  });
  // Swagger UI (`/docs` only) needs inline scripts and styles.
  const docsHeaders = securityHeaders({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'", "'unsafe-inline'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'https:'],
      },
    },
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    const docs = request.url === '/docs' || request.url.startsWith('/docs/');
    void reply.headers(docs ? docsHeaders : apiHeaders).header('x-request-id', request.id);
    done(null, payload);
  });
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined)
      return done(Object.assign(new Error('an HTTP/1.1 request needs a Host header'), { statusCode: 400 }));
    done();
  });
  // Whether the request line is written at all, decided once.
  const logsRequests =
    deps.logger !== false &&
    ((deps.logger as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.('info') ?? true);
  // Not registered at all when the line is off: a hook that does nothing still costs every request its call.
  if (logsRequests)
    app.addHook('onResponse', (request, reply, done) => {
      request.log.info(
        {
          method: request.method,
          url: loggableUrl(request.url),
          statusCode: reply.statusCode,
          responseTimeMs: Math.round(reply.elapsedTime * 10) / 10,
          remoteAddress: request.ip,
        },
        'request completed',
      );
      done();
    });

  await app.register(cors, {
    origin: deps.config.corsOrigin,
    methods: CORS_METHODS,
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: 600,
    // An OPTIONS that is not a preflight goes on to routing (a JSON 404 with a code), not a text/plain 400.
    strictPreflight: false,
  });
  await app.register(rateLimit, {
    global: deps.config.globalRateLimitPerMinute !== undefined,
    max: deps.config.globalRateLimitPerMinute ?? 1000,
    timeWindow: 60_000,
    ...(deps.rateLimitStore ? { store: deps.rateLimitStore as never } : {}),
    errorResponseBuilder: (_request, context) =>
      Object.assign(new Error(`too many requests; retry in ${Math.ceil(context.ttl / 1000)} s`), {
        statusCode: 429,
        code: 'RATE_LIMITED',
        retryAfterSeconds: Math.ceil(context.ttl / 1000),
      }),
  });

  await app.register(swagger, {
    transformObject: (document) =>
      optionalBodies('openapiObject' in document ? document.openapiObject : document.swaggerObject),
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) => (json.$id as string) || `def-${i}`,
    },
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Keyshop API',
        version: '1.0.0',
        description:
          'Digital game keys from the G2A marketplace: accounts, catalogue, carts and wishlists, a wallet, orders.',
      },
      servers: [{ url: deps.config.publicUrl }],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          guestSession: { type: 'apiKey', in: 'header', name: 'X-Session-Id' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(identityPlugin, {
    jwtSecret: deps.config.jwtSecret,
    accessTokenTtlSeconds: deps.config.accessTokenTtlSeconds,
    guestSessions: deps.guestSessions,
    users: deps.users,
    guestSessionTtlMs: deps.guestSessionTtlMs,
    clock: deps.clock,
  });

  await app.register(healthRoutes, { checks: deps.health });
  if (deps.metrics) registerMetrics(app, deps.metrics, { token: deps.config.metricsToken });

  await app.register(
    async (api) => {
      await api.register(accountRoutes, { useCases: deps.useCases, limits: deps.attemptLimits });
      await api.register(authRoutes, { useCases: deps.useCases, limits: deps.attemptLimits });
      await api.register(adminOutboxRoutes, { outbox: deps.outbox });
      await api.register(cartRoutes, { useCases: deps.useCases });
      await api.register(wishlistRoutes, { useCases: deps.useCases });
      await api.register(catalogRoutes, { useCases: deps.useCases });
      await api.register(adminSyncRoutes, { useCases: deps.useCases });
      await api.register(orderRoutes, { useCases: deps.useCases });
      await api.register(adminWalletRoutes, { useCases: deps.useCases });
      await api.register(fulfilmentRoutes, { useCases: deps.useCases });
    },
    { prefix: API_PREFIX },
  );

  app.get('/', { schema: { hide: true } }, async () => ({
    name: 'keyshop',
    docs: '/docs',
    api: API_PREFIX,
  }));
  return app;
}

/**
 * @fastify/swagger calls every body required, since Fastify's validation wants one; a route marked
 * `OPTIONAL_BODY` fills a missing body in before validation, so its request body is not required.
 */
function optionalBodies<T extends { paths?: object }>(document: T): T {
  for (const path of Object.values(document.paths ?? {}) as Record<string, Record<string, unknown>>[]) {
    for (const operation of Object.values(path)) {
      if (!operation[OPTIONAL_BODY]) continue;
      delete operation[OPTIONAL_BODY];
      if (operation.requestBody) (operation.requestBody as { required?: boolean }).required = false;
    }
  }
  return document;
}
