import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, type DomainErrorCode } from '../../domain/errors.js';

/** Codes of the transport itself: a request the API could not read, route or admit. */
export type HttpErrorCode =
  | 'INVALID_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'ROUTE_NOT_FOUND'
  | 'RATE_LIMITED'
  | 'BAD_REQUEST'
  | 'METHOD_NOT_ALLOWED'
  | 'REQUEST_TIMEOUT'
  | 'URI_TOO_LONG'
  | 'HEADERS_TOO_LARGE'
  | 'INTERNAL_ERROR'
  | 'SERVICE_UNAVAILABLE';

/** Every stable code a client may see. */
export type ErrorCode = DomainErrorCode | HttpErrorCode;

/** The one table from stable error codes to HTTP statuses. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  INVALID_TOKEN: 400,
  UNAUTHORIZED: 401,
  INVALID_CREDENTIALS: 401,
  TOKEN_REUSED: 401,
  SESSION_REQUIRED: 401,
  INVALID_SIGNATURE: 401,
  FORBIDDEN: 403,
  ROUTE_NOT_FOUND: 404,
  USER_NOT_FOUND: 404,
  GAME_NOT_FOUND: 404,
  CART_ITEM_NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  EMAIL_TAKEN: 409,
  OUT_OF_STOCK: 409,
  SYNC_IN_PROGRESS: 409,
  IDEMPOTENCY_KEY_IN_USE: 409,
  INSUFFICIENT_FUNDS: 402,
  CART_EMPTY: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  QUANTITY_LIMIT: 422,
  RATE_LIMITED: 429,
  BAD_REQUEST: 400,
  METHOD_NOT_ALLOWED: 405,
  REQUEST_TIMEOUT: 408,
  URI_TOO_LONG: 414,
  HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  // Reported inside a sign-in response, never as the status of one: the sign-in itself succeeded.
  MERGE_FAILED: 500,
  SERVICE_UNAVAILABLE: 503,
};

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  field?: string;
  details?: Record<string, unknown>;
}

export function errorBody(code: ErrorCode, message: string, extra: Record<string, unknown> = {}): ErrorBody {
  const statusCode = HTTP_STATUS[code];
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message, ...extra };
}

/** Fastify and plugin errors a client can cause, by their framework code. */
const FRAMEWORK_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_VALIDATION: 'VALIDATION_FAILED',
  FST_ERR_NOT_FOUND: 'ROUTE_NOT_FOUND',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'VALIDATION_FAILED',
  RATE_LIMITED: 'RATE_LIMITED',
};

/**
 * A client error by its status alone, for the errors that carry no code of their own (a static file's 403, the
 * router's 414, Node's parser): never `VALIDATION_FAILED`, which means a field was wrong.
 */
const CODE_OF_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'ROUTE_NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'URI_TOO_LONG',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  431: 'HEADERS_TOO_LARGE',
};

/** The body for a client error known only by its status. */
export function clientErrorBody(status: number, message: string): ErrorBody {
  const code = CODE_OF_STATUS[status] ?? 'BAD_REQUEST';
  // The router's own message repeats the whole URL, however long.
  if (status === 414) message = 'the URL or one of its path parameters is too long';
  return { ...errorBody(code, message), statusCode: status, error: STATUS_CODES[status] ?? 'Error' };
}

function validationBody(error: FastifyError): ErrorBody {
  const first = error.validation?.[0];
  const part = error.validationContext ?? 'body';
  const path = (first?.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  const missing = (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
  const field = [path, missing].filter(Boolean).join('.') || part;
  const message = first ? `${part}.${field} ${first.message ?? 'is invalid'}` : error.message;
  return errorBody('VALIDATION_FAILED', message.replace(`${part}.${part} `, `${part} `), { field });
}

export function toErrorBody(error: FastifyError | DomainError | Error): ErrorBody {
  if (error instanceof DomainError) {
    const { field, ...details } = error.details ?? {};
    return errorBody(error.code, error.message, {
      ...(typeof field === 'string' ? { field } : {}),
      ...(Object.keys(details).length > 0 ? { details } : {}),
    });
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return validationBody(fastifyError);
  const mapped = fastifyError.code ? FRAMEWORK_CODES[fastifyError.code] : undefined;
  if (mapped) return errorBody(mapped, fastifyError.message);
  if (fastifyError.code?.startsWith('FST_JWT_'))
    return errorBody('UNAUTHORIZED', 'a valid bearer token is required');
  if (error instanceof SyntaxError && fastifyError.statusCode === 400)
    return errorBody('INVALID_JSON', 'the body is not valid JSON');
  const status = fastifyError.statusCode ?? 500;
  if (status >= 400 && status < 500) return clientErrorBody(status, fastifyError.message);
  return errorBody('INTERNAL_ERROR', 'something went wrong; the error was logged');
}

export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const body = toErrorBody(error);
    if (body.statusCode >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.code, statusCode: body.statusCode }, body.message);
    if (body.code === 'RATE_LIMITED' && (error as { retryAfterSeconds?: number }).retryAfterSeconds) {
      void reply.header('retry-after', String((error as { retryAfterSeconds?: number }).retryAfterSeconds));
    }
    return reply.status(body.statusCode).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply
      .status(404)
      .send(errorBody('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}

/** Node's HTTP parser errors, answered before Fastify sees a request: the shared body with a code, then close. */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const body =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? clientErrorBody(408, 'the request took too long to arrive')
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? clientErrorBody(431, 'the request headers are too large')
        : clientErrorBody(400, 'the request is not valid HTTP (its framing, a header or its length)');
  const json = JSON.stringify(body);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${body.statusCode} ${body.error}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy(error);
}
