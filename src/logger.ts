import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger as PinoLogger } from 'pino';

/** Paths that may carry secrets, keys or tokens; pino replaces them before anything is written. */
const REDACT = [
  'req.headers.authorization',
  'req.headers["x-session-id"]',
  'password',
  'passwordHash',
  'refreshToken',
  'accessToken',
  'token',
  'key',
  'keys',
  '*.password',
  '*.refreshToken',
  '*.token',
  '*.key',
];

/**
 * The request a piece of work runs for. Only used to stamp log lines written outside Fastify's request logger
 * (use cases and adapters log through the process logger), so every line of a request carries its id.
 */
export const requestContext = new AsyncLocalStorage<{ reqId: string }>();

/** Marks Fastify's per-request child loggers, which already carry `reqId` in their bindings. */
export const REQUEST_SCOPED = Symbol('keyshop.requestScoped');

export function createLogger(level: string): PinoLogger {
  return pino({
    level,
    redact: { paths: REDACT, censor: '[redacted]' },
    base: { service: 'keyshop' },
    mixin: (_object, _level, logger) => {
      if ((logger as unknown as Record<symbol, boolean>)[REQUEST_SCOPED]) return {};
      const context = requestContext.getStore();
      return context ? { reqId: context.reqId } : {};
    },
  });
}
