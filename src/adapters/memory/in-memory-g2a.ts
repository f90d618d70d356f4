import { setTimeout as sleep } from 'node:timers/promises';
import {
  G2AError,
  type G2A,
  type G2ASendCheck,
  type G2AOrderCreated,
  type G2AOrderDetails,
  type G2AProductPage,
  type ListProductsQuery,
} from '../../ports/g2a.js';
import { g2aErrorFromResponse } from '../g2a/g2a-error-from-response.js';
import type { G2ASimulatorState, SimulatorOutcome } from '../g2a/simulator-state.js';

type Answer<T> = { ok: T } | { error: G2AError };

/**
 * The G2A port straight over the simulator's state, without HTTP: the same catalogue, orders and refusals as
 * the simulator server, mapped to `G2AError`s as the HTTP client maps them. Its faults apply as the server
 * applies them (rate limit → `rate_limited`, `errorRate` → `unavailable`, `latencyMs` delays every answer),
 * but nothing is retried: every injected failure reaches the caller.
 */
export class InMemoryG2A implements G2A {
  /** While true, every call is refused as G2A refuses wrong credentials. */
  rejectCredentials = false;
  /** Every listing query, in call order. */
  readonly listQueries: ListProductsQuery[] = [];

  private readonly pageFailures = new Map<number, G2AError>();

  constructor(readonly state: G2ASimulatorState) {}

  describe(): string {
    return `in-memory G2A simulator (${this.state.productCount} products)`;
  }

  /** Makes the next listing of `page` fail with `error`, once. */
  failPage(page: number, error: G2AError): void {
    this.pageFailures.set(page, error);
  }

  listProducts(query: ListProductsQuery): Promise<G2AProductPage> {
    this.listQueries.push({ ...query });
    return this.call<G2AProductPage>('GET /v1/products', () => {
      const failure = this.pageFailures.get(query.page);
      if (failure) {
        this.pageFailures.delete(query.page);
        return { error: failure };
      }
      return {
        ok: this.state.listProducts({
          page: query.page,
          id: query.id,
          includeOutOfStock: query.includeOutOfStock === true,
          minQty: query.minQty,
          updatedAtFrom: query.updatedAtFrom,
          updatedAtTo: query.updatedAtTo,
        }),
      };
    });
  }

  async createOrder(
    input: { productId: string; maxPriceEur: number; currency?: string },
    check: G2ASendCheck = {},
  ): Promise<G2AOrderCreated> {
    await this.mayLeave('POST /v1/order', check);
    const order = await this.call('POST /v1/order', () =>
      this.refusalsAsErrors(
        'POST /v1/order',
        this.state.createOrder({
          productId: input.productId,
          maxPrice: input.maxPriceEur,
          currency: (input.currency ?? 'EUR').toUpperCase(),
        }),
      ),
    );
    return { orderId: order.orderId, price: order.price, currency: order.currency };
  }

  async payOrder(orderId: string, check: G2ASendCheck = {}): Promise<{ transactionId: string }> {
    const route = 'PUT /v1/order/pay/:id';
    await this.mayLeave(route, check);
    const order = await this.call(route, () => this.refusalsAsErrors(route, this.state.payOrder(orderId)));
    return { transactionId: order.transactionId! };
  }

  getOrderDetails(orderId: string): Promise<G2AOrderDetails> {
    const route = 'GET /v1/order/details/:id';
    return this.call(route, () => this.refusalsAsErrors(route, this.state.orderDetails(orderId)));
  }

  getOrderKey(orderId: string): Promise<{ key: string }> {
    const route = 'GET /v1/order/key/:id';
    return this.call(route, () => this.refusalsAsErrors(route, this.state.orderKey(orderId)));
  }

  /** As the HTTP client does before a request that changes state leaves: the caller may have let go. */
  private async mayLeave(route: string, check: G2ASendCheck): Promise<void> {
    if (check.mayLeave && !(await check.mayLeave()))
      throw new G2AError(
        'unavailable',
        `${route} was not sent: its caller let go`,
        undefined,
        undefined,
        true,
      );
  }

  /** One API request as the simulator server handles it: counted, authorised, rate limited, faulted, delayed. */
  private async call<T>(route: string, handle: () => Answer<T>): Promise<T> {
    this.state.countRequest(route);
    const answer = this.admit(route) ?? handle();
    const { latencyMs } = this.state.faults;
    if (latencyMs > 0) await sleep(latencyMs);
    if ('error' in answer) throw answer.error;
    // A copy, as a JSON answer would be: callers must not reach into the simulator's state.
    return structuredClone(answer.ok);
  }

  private admit(route: string): { error: G2AError } | undefined {
    if (this.rejectCredentials) {
      return { error: g2aErrorFromResponse(401, { code: 'AUTH02', message: 'Authorization failed' }, route) };
    }
    if (this.state.admitRequest() !== undefined) {
      return { error: g2aErrorFromResponse(429, { code: 'BR03', message: 'Too many requests' }, route) };
    }
    const injectedStatus = this.state.injectError();
    if (injectedStatus !== undefined) {
      return {
        error: g2aErrorFromResponse(injectedStatus, { code: 'SIM500', message: 'Injected failure' }, route),
      };
    }
    return undefined;
  }

  private refusalsAsErrors<T>(route: string, outcome: SimulatorOutcome<T>): Answer<T> {
    if ('ok' in outcome) return outcome;
    return { error: g2aErrorFromResponse(outcome.refusal.httpStatus, outcome.refusal, route) };
  }
}
