import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, type Dispatcher } from 'undici';
import {
  G2AError,
  type G2A,
  type G2ASendCheck,
  type G2AOrderCreated,
  type G2AOrderDetails,
  type G2AProductPage,
  type ListProductsQuery,
} from '../../ports/g2a.js';
import type { Logger } from '../../ports/logger.js';
import { g2aAuthorizationHeader } from './g2a-auth.js';
import type { G2APriority, G2ARateLimiter } from './g2a-rate-limiter.js';
import { g2aErrorFromResponse } from './g2a-error-from-response.js';
import { parseRetryAfterMs } from './retry-after.js';
import { TokenBucket } from './token-bucket.js';

export interface UndiciG2AClientOptions {
  /** Scheme and host only, e.g. `https://api.g2a.com`; the client adds `/v1`. */
  baseUrl: string;
  apiHash: string;
  apiSecret: string;
  email: string;
  /** Requests per minute for this instance, retries included. 0 or Infinity: no client-side limit. */
  ratePerMinute?: number;
  /**
   * A limiter shared with other processes (and other clients) instead of this instance's own token bucket:
   * the rate is then G2A's for the whole shop, not per process.
   */
  limiter?: G2ARateLimiter;
  /** Requests that may leave back to back after an idle spell (the rest are spaced evenly). */
  burst?: number;
  /** Per attempt, from sending the request to the end of the response body. */
  timeoutMs?: number;
  /** Further attempts after the first one, for failures that are safe to retry. */
  maxRetries?: number;
  /** Base of the exponential backoff; each delay is drawn uniformly from [0, base * 2^attempt]. */
  retryBaseDelayMs?: number;
  /** Ceiling of a backoff delay. */
  maxRetryDelayMs?: number;
  /** The longest Retry-After the client waits for; a longer one fails the call as `rate_limited` at once. */
  maxRetryAfterMs?: number;
  /** Keep-alive connections to G2A when the client builds its own pool. */
  connections?: number;
  logger?: Logger;
  /** An undici dispatcher to use instead of the client's own keep-alive pool (not closed by `close()`). */
  dispatcher?: Dispatcher;
  /** Told of every attempt's outcome (`ok` or the failure's kind), by endpoint: a metric. */
  onAttempt?: (endpoint: string, outcome: string) => void;
  /**
   * Aborted when the process is stopping: no request leaves any more (a call waiting for its slot fails at once
   * as unsent, safe for its caller to repeat elsewhere); requests already sent run to their answer.
   */
  stopping?: AbortSignal;
}

type HttpMethod = 'GET' | 'POST' | 'PUT';

interface CallSpec {
  method: HttpMethod;
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /**
   * False for calls that change state at G2A (create, pay): they are repeated only when the request
   * certainly was not processed (429, or a failure to connect), never after a timeout, a dropped
   * connection or a 5xx, which may have come after G2A acted.
   */
  idempotent: boolean;
  /** Whose request it is, for a shared limiter: buying keys goes first. */
  priority: G2APriority;
  /** The endpoint without ids, for metrics. */
  endpoint: string;
  /** Asked before each attempt leaves; false stops the call unsent. */
  mayLeave?: () => Promise<boolean>;
}

interface AttemptFailure {
  error: G2AError;
  retryable: boolean;
  retryAfterMs?: number;
}

const DEFAULT_RATE_PER_MINUTE = 600;
const DEFAULT_TIMEOUT_MS = 15_000;
const DEFAULT_MAX_RETRIES = 5;
const DEFAULT_RETRY_BASE_DELAY_MS = 500;
const DEFAULT_MAX_RETRY_DELAY_MS = 30_000;
const DEFAULT_MAX_RETRY_AFTER_MS = 120_000;
const DEFAULT_CONNECTIONS = 8;
// A keep-alive socket idle for this long is dropped before the server might close it under us.
const KEEP_ALIVE_TIMEOUT_MS = 4_000;

/** Codes of errors raised while connecting, before any byte of the request left this process. */
const CONNECT_PHASE_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const RESPONSE_TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause && cause !== error ? errorCode(cause) : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function hasFiniteNumber(value: Record<string, unknown>, field: string): boolean {
  return typeof value[field] === 'number' && Number.isFinite(value[field]);
}

/** What a call that had not left yet fails with once the process is stopping: never sent, safe to repeat. */
function stoppingError(): G2AError {
  return new G2AError(
    'unavailable',
    'the shop is stopping: the request was not sent',
    undefined,
    undefined,
    true,
  );
}

async function sleepUntil(timeMs: number): Promise<void> {
  for (let remaining = timeMs - Date.now(); remaining > 0; remaining = timeMs - Date.now()) {
    await sleep(Math.ceil(remaining));
  }
}

/**
 * The G2A Export API over undici: one keep-alive pool, a client-side token bucket shared by every call of the
 * instance, retries with exponential backoff and full jitter, and G2A error bodies mapped to `G2AError`.
 */
export class UndiciG2AClient implements G2A {
  private readonly origin: string;
  private readonly baseUrl: string;
  private readonly pathPrefix: string;
  private readonly authorization: string;
  private readonly email: string;
  private readonly dispatcher: Dispatcher;
  private readonly ownsDispatcher: boolean;
  private readonly bucket: TokenBucket | undefined;
  private readonly limiter: G2ARateLimiter | undefined;
  private readonly timeoutMs: number;
  private readonly stopping: AbortSignal | undefined;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly logger: Logger | undefined;
  private readonly onAttempt: ((endpoint: string, outcome: string) => void) | undefined;
  private pausedUntil = 0;

  constructor(options: UndiciG2AClientOptions) {
    const url = new URL(options.baseUrl);
    this.origin = url.origin;
    const basePath = url.pathname.replace(/\/+$/, '');
    this.baseUrl = `${url.origin}${basePath}`;
    this.pathPrefix = basePath.endsWith('/v1') ? basePath : `${basePath}/v1`;
    this.authorization = g2aAuthorizationHeader(options.apiHash, options.email, options.apiSecret);
    this.email = options.email;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.stopping = options.stopping;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_DELAY_MS;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    this.logger = options.logger?.child({ component: 'g2a-client' });
    this.onAttempt = options.onAttempt;

    this.limiter = options.limiter;
    const rate = options.limiter ? 0 : (options.ratePerMinute ?? DEFAULT_RATE_PER_MINUTE);
    if (Number.isNaN(rate) || rate < 0) throw new RangeError(`ratePerMinute must be >= 0, got ${rate}`);
    this.bucket =
      rate === 0 || rate === Infinity
        ? undefined
        : TokenBucket.limiting({
            limit: Math.max(1, Math.floor(rate)),
            windowMs: 60_000,
            burst: options.burst ?? Math.max(1, Math.floor(rate / 100)),
          });

    this.ownsDispatcher = options.dispatcher === undefined;
    this.dispatcher =
      options.dispatcher ??
      new Pool(this.origin, {
        connections: options.connections ?? DEFAULT_CONNECTIONS,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
        connectTimeout: Math.min(this.timeoutMs, 10_000),
      });
  }

  describe(): string {
    return `G2A ${this.baseUrl} (account ${this.email})`;
  }

  async listProducts(query: ListProductsQuery): Promise<G2AProductPage> {
    const page = await this.call({
      method: 'GET',
      path: '/products',
      query: {
        page: query.page,
        id: query.id,
        includeOutOfStock: query.includeOutOfStock ? true : undefined,
        minQty: query.minQty,
        updatedAtFrom: query.updatedAtFrom,
        updatedAtTo: query.updatedAtTo,
      },
      idempotent: true,
      priority: 'sync',
      endpoint: 'GET /v1/products',
    });
    if (!isObject(page) || !Array.isArray(page.docs) || !hasFiniteNumber(page, 'total')) {
      throw this.malformed('GET /v1/products');
    }
    return {
      total: page.total as number,
      page: typeof page.page === 'number' ? page.page : query.page,
      docs: page.docs as G2AProductPage['docs'],
    };
  }

  async createOrder(
    input: { productId: string; maxPriceEur: number; currency?: string },
    check: G2ASendCheck = {},
  ): Promise<G2AOrderCreated> {
    const order = await this.call({
      method: 'POST',
      path: '/order',
      body: { product_id: input.productId, max_price: input.maxPriceEur, currency: input.currency ?? 'EUR' },
      idempotent: false,
      priority: 'fulfilment',
      endpoint: 'POST /v1/order',
      mayLeave: check.mayLeave,
    });
    if (!isObject(order) || order.order_id === undefined || !hasFiniteNumber(order, 'price')) {
      throw this.malformed('POST /v1/order');
    }
    return {
      orderId: String(order.order_id),
      price: order.price as number,
      currency: typeof order.currency === 'string' ? order.currency : (input.currency ?? 'EUR'),
    };
  }

  async payOrder(orderId: string, check: G2ASendCheck = {}): Promise<{ transactionId: string }> {
    const payment = await this.call({
      method: 'PUT',
      path: `/order/pay/${encodeURIComponent(orderId)}`,
      idempotent: false,
      priority: 'fulfilment',
      endpoint: 'PUT /v1/order/pay',
      mayLeave: check.mayLeave,
    });
    if (!isObject(payment) || payment.status !== true || payment.transaction_id === undefined) {
      throw new G2AError('rejected', `PUT /v1/order/pay failed: payment not confirmed`, 200);
    }
    return { transactionId: String(payment.transaction_id) };
  }

  async getOrderDetails(orderId: string): Promise<G2AOrderDetails> {
    const details = await this.call({
      method: 'GET',
      path: `/order/details/${encodeURIComponent(orderId)}`,
      idempotent: true,
      priority: 'fulfilment',
      endpoint: 'GET /v1/order/details',
    });
    if (!isObject(details) || typeof details.status !== 'string') {
      throw this.malformed('GET /v1/order/details');
    }
    return {
      status: details.status,
      price: typeof details.price === 'number' ? details.price : Number(details.price),
      currency: typeof details.currency === 'string' ? details.currency : 'EUR',
    };
  }

  async getOrderKey(orderId: string): Promise<{ key: string }> {
    const answer = await this.call({
      method: 'GET',
      path: `/order/key/${encodeURIComponent(orderId)}`,
      idempotent: true,
      priority: 'fulfilment',
      endpoint: 'GET /v1/order/key',
    });
    if (!isObject(answer) || typeof answer.key !== 'string' || answer.key === '') {
      throw this.malformed('GET /v1/order/key');
    }
    return { key: answer.key };
  }

  /** Closes the keep-alive pool the client built (not a dispatcher passed in). */
  async close(): Promise<void> {
    if (this.ownsDispatcher) await this.dispatcher.close();
  }

  private malformed(operation: string): G2AError {
    return new G2AError('unavailable', `${operation} answered an unexpected body`, 200);
  }

  private async call(spec: CallSpec): Promise<unknown> {
    const path = this.buildPath(spec);
    const operation = `${spec.method} ${this.pathPrefix}${spec.path}`;
    for (let attempt = 0; ; attempt++) {
      await this.acquireSlot(spec.priority);
      if (spec.mayLeave && !(await spec.mayLeave())) {
        this.logger?.info(
          { operation, attempt, outcome: 'not_sent' },
          'G2A call not sent: its caller let go',
        );
        throw new G2AError(
          'unavailable',
          `${operation} was not sent: its caller let go`,
          undefined,
          undefined,
          true,
        );
      }
      const startedAt = Date.now();
      const outcome = await this.attempt(spec, path, operation);
      const durationMs = Date.now() - startedAt;
      this.onAttempt?.(spec.endpoint, 'failure' in outcome ? outcome.failure.error.kind : 'ok');
      if (!('failure' in outcome)) {
        this.logger?.debug({ operation, attempt, durationMs, outcome: 'ok' }, 'G2A call');
        return outcome.body;
      }

      const { error, retryable, retryAfterMs } = outcome.failure;
      const fields = {
        operation,
        attempt,
        durationMs,
        kind: error.kind,
        httpStatus: error.httpStatus,
        g2aCode: error.g2aCode,
      };
      if (!retryable || attempt >= this.maxRetries) {
        this.logFinalFailure(error, { ...fields, outcome: 'failed' });
        throw error;
      }
      if (retryAfterMs !== undefined && retryAfterMs > this.maxRetryAfterMs) {
        this.logger?.warn({ ...fields, retryAfterMs, outcome: 'failed' }, 'G2A asked to wait too long');
        throw error;
      }
      const backoffMs = Math.random() * Math.min(this.maxRetryDelayMs, this.retryBaseDelayMs * 2 ** attempt);
      // Retry-After is a floor; the jitter on top keeps concurrent callers from returning in one burst.
      const delayMs = Math.ceil(retryAfterMs === undefined ? backoffMs : retryAfterMs + backoffMs);
      if (error.kind === 'rate_limited') this.pauseAll(Date.now() + (retryAfterMs ?? backoffMs));
      this.logger?.warn(
        { ...fields, retryAfterMs, delayMs, outcome: 'retrying' },
        'G2A call failed; retrying',
      );
      await sleep(delayMs);
    }
  }

  /** A key still being processed is routine while polling, and a refusal is the caller's to report. */
  private logFinalFailure(error: G2AError, fields: Record<string, unknown>): void {
    if (error.kind === 'not_ready') this.logger?.debug(fields, 'G2A key not ready');
    else if (error.kind === 'rejected' || error.kind === 'not_found')
      this.logger?.info(fields, 'G2A refused');
    else this.logger?.warn(fields, 'G2A call failed');
  }

  private buildPath(spec: CallSpec): string {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(spec.query ?? {})) {
      if (value !== undefined) search.set(name, String(value));
    }
    const queryString = search.toString();
    return `${this.pathPrefix}${spec.path}${queryString ? `?${queryString}` : ''}`;
  }

  /** Waits for a rate-limit token, and for the end of any pause a 429 imposed on the whole instance. */
  private async acquireSlot(priority: G2APriority): Promise<void> {
    for (;;) {
      await this.unlessStopping(sleepUntil(this.pausedUntil));
      if (this.limiter) await this.unlessStopping(this.limiter.acquire(priority));
      else await this.unlessStopping(sleepUntil(this.bucket ? this.bucket.reserve() : 0));
      if (this.stopping?.aborted) throw stoppingError();
      if (Date.now() >= this.pausedUntil) return;
    }
  }

  /** `wait`, unless the process starts stopping first: then an unsent G2AError. */
  private unlessStopping(wait: Promise<void>): Promise<void> {
    const stop = this.stopping;
    if (!stop) return wait;
    if (stop.aborted) return Promise.reject(stoppingError());
    return new Promise<void>((resolve, reject) => {
      const onStop = () => reject(stoppingError());
      stop.addEventListener('abort', onStop, { once: true });
      wait.then(
        () => {
          stop.removeEventListener('abort', onStop);
          resolve();
        },
        (error: unknown) => {
          stop.removeEventListener('abort', onStop);
          reject(error);
        },
      );
    });
  }

  private pauseAll(untilMs: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, untilMs);
    this.bucket?.pauseUntil(untilMs);
  }

  private async attempt(
    spec: CallSpec,
    path: string,
    operation: string,
  ): Promise<{ body: unknown } | { failure: AttemptFailure }> {
    const headers: Record<string, string> = { authorization: this.authorization, accept: 'application/json' };
    let payload: string | undefined;
    if (spec.body !== undefined) {
      payload = JSON.stringify(spec.body);
      headers['content-type'] = 'application/json';
    }

    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    let status: number;
    let responseHeaders: Dispatcher.ResponseData['headers'];
    let text: string;
    try {
      const response = await this.dispatcher.request({
        origin: this.origin,
        path,
        method: spec.method,
        headers,
        body: payload,
        signal: abort.signal,
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
      });
      status = response.statusCode;
      responseHeaders = response.headers;
      text = await response.body.text();
    } catch (cause) {
      return { failure: this.transportFailure(cause, abort.signal.aborted, spec, operation) };
    } finally {
      clearTimeout(timer);
    }

    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }

    if (status >= 200 && status < 300) {
      if (body === undefined) {
        return { failure: { error: this.malformed(operation), retryable: spec.idempotent } };
      }
      return { body };
    }

    const error = g2aErrorFromResponse(status, body, operation);
    const retryable = error.kind === 'rate_limited' || (error.kind === 'unavailable' && spec.idempotent);
    const retryAfterMs = parseRetryAfterMs(responseHeaders['retry-after'], Date.now());
    return { failure: { error, retryable, retryAfterMs } };
  }

  private transportFailure(
    cause: unknown,
    timedOut: boolean,
    spec: CallSpec,
    operation: string,
  ): AttemptFailure {
    const code = errorCode(cause);
    const detail = code ?? (cause instanceof Error ? cause.message : String(cause));
    const beforeSending = code !== undefined && CONNECT_PHASE_ERROR_CODES.has(code);
    const kind =
      timedOut || code === 'UND_ERR_CONNECT_TIMEOUT' || (code && RESPONSE_TIMEOUT_CODES.has(code))
        ? 'timeout'
        : 'network';
    const message =
      kind === 'timeout' ? `${operation} timed out (${detail})` : `${operation} failed: network (${detail})`;
    return {
      error: new G2AError(kind, message, undefined, undefined, beforeSending),
      retryable: spec.idempotent || beforeSending,
    };
  }
}
