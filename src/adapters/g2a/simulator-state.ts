import { randomBytes, randomUUID } from 'node:crypto';
import type { G2AProduct, G2AProductPage } from '../../ports/g2a.js';
import { formatG2ATimestamp, generateSimulatedProduct } from './simulator-catalog.js';
import { deriveSeed, mulberry32 } from './seeded-random.js';
import { SlidingWindowCounter } from './sliding-window-counter.js';

export type SimulatedOrderFailure = 'none' | 'out_of_stock' | 'price_too_high' | 'payment';

export interface SimulatorFaults {
  /** Share (0–1) of API requests answered with a random 5xx before they are processed. */
  errorRate: number;
  /** Added to every API request. */
  latencyMs: number;
  /** API requests admitted per minute (per `rateWindowMs`, scaled); 0 means no limit. */
  ratePerMinute: number;
  /** The window the rate limit counts in; shorter windows make 429 tests fast. */
  rateWindowMs: number;
  /** Time from payment until the key is ready. */
  keyDelayMs: number;
  orderFailure: SimulatedOrderFailure;
}

export interface SimulatedOrder {
  orderId: string;
  productId: string;
  price: number;
  currency: string;
  createdAt: number;
  paid: boolean;
  paidAt?: number;
  transactionId?: string;
  keyReadyAt?: number;
  key?: string;
  keyDelivered: boolean;
}

export type SimulatedOrderStatus = 'new' | 'pending' | 'complete';

/** A refusal in the shape G2A answers: HTTP status plus `{status: "ERROR", code, message}`. */
export interface SimulatorRefusal {
  httpStatus: number;
  code: string;
  message: string;
}

export type SimulatorOutcome<T> = { ok: T } | { refusal: SimulatorRefusal };

export interface ProductListQuery {
  page: number;
  id?: string;
  includeOutOfStock?: boolean;
  minQty?: number;
  minPriceFrom?: number;
  minPriceTo?: number;
  updatedAtFrom?: string;
  updatedAtTo?: string;
}

export interface ProductPatch {
  minPrice?: number;
  qty?: number;
  availableToBuy?: boolean;
  /** Puts a removed product back into the listing (true) or removes it (false). */
  listed?: boolean;
}

export interface SimulatorStats {
  requests: number;
  byRoute: Record<string, number>;
  rateLimited: number;
  injectedErrors: number;
}

export interface G2ASimulatorStateOptions {
  productCount: number;
  seed: number;
  ratePerMinute: number;
  now?: () => number;
}

export const PAGE_SIZE = 20;
const MINUTE_MS = 60_000;
const ORDER_ID_BASE = 80_000_000_000_000;
const INJECTED_ERROR_STATUSES = [500, 502, 503] as const;

const refusal = (httpStatus: number, code: string, message: string) => ({
  refusal: { httpStatus, code, message },
});

function inStock(product: G2AProduct): boolean {
  return product.qty > 0 && product.availableToBuy !== false;
}

function newKey(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(15);
  const characters = Array.from(bytes, (byte) => alphabet[byte % alphabet.length]);
  return [0, 5, 10].map((start) => characters.slice(start, start + 5).join('')).join('-');
}

/**
 * Everything the G2A simulator knows (catalogue, orders, faults, rate window), without HTTP, so the server
 * stays a thin shell and an in-process caller can inspect or drive it directly.
 */
export class G2ASimulatorState {
  private readonly options: Required<G2ASimulatorStateOptions>;
  private readonly now: () => number;
  private products = new Map<string, G2AProduct>();
  private removed = new Set<string>();
  private nextProductIndex = 0;
  private listedCache: { inStock: G2AProduct[]; all: G2AProduct[] } | undefined;
  private readonly orders = new Map<string, SimulatedOrder>();
  private lastOrderId = 0;
  private currentFaults!: SimulatorFaults;
  private rateWindow: SlidingWindowCounter | undefined;
  private faultRandom!: () => number;
  private counters!: SimulatorStats;

  constructor(options: G2ASimulatorStateOptions) {
    this.options = { now: Date.now, ...options };
    this.now = this.options.now;
    this.reset();
  }

  /** Restores the seeded catalogue and the initial faults, and forgets orders and counters. */
  reset(): void {
    this.products = new Map();
    this.removed = new Set();
    this.nextProductIndex = 0;
    this.addProducts(this.options.productCount);
    this.orders.clear();
    this.faultRandom = mulberry32(deriveSeed(this.options.seed, 0xfa17));
    this.counters = { requests: 0, byRoute: {}, rateLimited: 0, injectedErrors: 0 };
    this.currentFaults = {
      errorRate: 0,
      latencyMs: 0,
      ratePerMinute: this.options.ratePerMinute,
      rateWindowMs: MINUTE_MS,
      keyDelayMs: 0,
      orderFailure: 'none',
    };
    this.rebuildRateWindow();
  }

  get faults(): Readonly<SimulatorFaults> {
    return this.currentFaults;
  }

  setFaults(changes: Partial<SimulatorFaults>): SimulatorFaults {
    const previous = this.currentFaults;
    this.currentFaults = { ...previous, ...changes };
    if (
      this.currentFaults.ratePerMinute !== previous.ratePerMinute ||
      this.currentFaults.rateWindowMs !== previous.rateWindowMs
    ) {
      this.rebuildRateWindow();
    }
    return { ...this.currentFaults };
  }

  private rebuildRateWindow(): void {
    const { ratePerMinute, rateWindowMs } = this.currentFaults;
    const limit = Math.max(1, Math.round((ratePerMinute * rateWindowMs) / MINUTE_MS));
    this.rateWindow = ratePerMinute > 0 ? new SlidingWindowCounter(limit, rateWindowMs) : undefined;
  }

  get stats(): SimulatorStats {
    return { ...this.counters, byRoute: { ...this.counters.byRoute } };
  }

  countRequest(route: string): void {
    this.counters.requests++;
    this.counters.byRoute[route] = (this.counters.byRoute[route] ?? 0) + 1;
  }

  /** Counts an API request against the rate; undefined when admitted, else the seconds to advertise. */
  admitRequest(): number | undefined {
    const waitMs = this.rateWindow?.admit(this.now()) ?? 0;
    if (waitMs === 0) return undefined;
    this.counters.rateLimited++;
    return Math.max(1, Math.ceil(waitMs / 1000));
  }

  /** Draws whether this request gets an injected failure: the 5xx status to answer, or undefined. */
  injectError(): number | undefined {
    if (this.currentFaults.errorRate <= 0) return undefined;
    if (this.faultRandom() >= this.currentFaults.errorRate) return undefined;
    this.counters.injectedErrors++;
    return INJECTED_ERROR_STATUSES[Math.floor(this.faultRandom() * INJECTED_ERROR_STATUSES.length)] ?? 500;
  }

  // Catalogue

  get productCount(): number {
    return this.products.size - this.removed.size;
  }

  findProduct(id: string): G2AProduct | undefined {
    return this.products.get(id);
  }

  addProducts(count: number): string[] {
    const ids: string[] = [];
    for (let added = 0; added < count; added++) {
      const product = generateSimulatedProduct(this.options.seed, this.nextProductIndex++);
      this.products.set(product.id, product);
      ids.push(product.id);
    }
    this.listedCache = undefined;
    return ids;
  }

  updateProduct(id: string, patch: ProductPatch): G2AProduct | undefined {
    const product = this.products.get(id);
    if (!product) return undefined;
    if (patch.minPrice !== undefined) product.minPrice = patch.minPrice;
    if (patch.qty !== undefined) product.qty = patch.qty;
    if (patch.availableToBuy !== undefined) product.availableToBuy = patch.availableToBuy;
    if (patch.listed === true) this.removed.delete(id);
    if (patch.listed === false) this.removed.add(id);
    product.updated_at = formatG2ATimestamp(this.now());
    this.listedCache = undefined;
    return product;
  }

  removeProduct(id: string): boolean {
    if (!this.products.has(id)) return false;
    this.removed.add(id);
    this.listedCache = undefined;
    return true;
  }

  isListed(id: string): boolean {
    return this.products.has(id) && !this.removed.has(id);
  }

  listProducts(query: ProductListQuery): G2AProductPage {
    let matching = this.listed(query.includeOutOfStock === true);
    if (query.id !== undefined) matching = matching.filter((product) => product.id === query.id);
    const { minQty, minPriceFrom, minPriceTo, updatedAtFrom, updatedAtTo } = query;
    if (minQty !== undefined) matching = matching.filter((product) => product.qty >= minQty);
    if (minPriceFrom !== undefined) matching = matching.filter((product) => product.minPrice >= minPriceFrom);
    if (minPriceTo !== undefined) matching = matching.filter((product) => product.minPrice <= minPriceTo);
    // `YYYY-MM-DD HH:mm:ss` strings compare in time order.
    if (updatedAtFrom !== undefined) {
      matching = matching.filter((product) => (product.updated_at ?? '') >= updatedAtFrom);
    }
    if (updatedAtTo !== undefined) {
      matching = matching.filter((product) => (product.updated_at ?? '') <= updatedAtTo);
    }
    const start = (query.page - 1) * PAGE_SIZE;
    return { total: matching.length, page: query.page, docs: matching.slice(start, start + PAGE_SIZE) };
  }

  private listed(includeOutOfStock: boolean): G2AProduct[] {
    if (!this.listedCache) {
      const all = [...this.products.values()].filter((product) => !this.removed.has(product.id));
      this.listedCache = { all, inStock: all.filter(inStock) };
    }
    return includeOutOfStock ? this.listedCache.all : this.listedCache.inStock;
  }

  // Orders

  listOrders(): Array<{
    orderId: string;
    productId: string;
    price: number;
    status: SimulatedOrderStatus;
    paid: boolean;
    keyDelivered: boolean;
  }> {
    return [...this.orders.values()].map((order) => ({
      orderId: order.orderId,
      productId: order.productId,
      price: order.price,
      status: this.orderStatus(order),
      paid: order.paid,
      keyDelivered: order.keyDelivered,
    }));
  }

  findOrder(orderId: string): SimulatedOrder | undefined {
    return this.orders.get(orderId);
  }

  createOrder(input: {
    productId: string;
    maxPrice?: number;
    currency?: string;
  }): SimulatorOutcome<SimulatedOrder> {
    const product = this.isListed(input.productId) ? this.products.get(input.productId) : undefined;
    if (!product) return refusal(404, 'BR04', 'Product ID is not valid');
    const currency = input.currency ?? 'EUR';
    if (currency !== 'EUR') return refusal(400, 'BR02', `Unsupported currency ${currency}`);
    const { orderFailure } = this.currentFaults;
    if (orderFailure === 'out_of_stock' || !inStock(product)) {
      return refusal(400, 'ORD01', 'Product is out of stock');
    }
    const maxPrice = input.maxPrice ?? 0;
    if (orderFailure === 'price_too_high' || (maxPrice > 0 && product.minPrice > maxPrice)) {
      return refusal(400, 'ORD06', 'No offer at or below max_price');
    }
    const order: SimulatedOrder = {
      orderId: this.nextOrderId(),
      productId: product.id,
      price: product.minPrice,
      currency,
      createdAt: this.now(),
      paid: false,
      keyDelivered: false,
    };
    this.orders.set(order.orderId, order);
    return { ok: order };
  }

  /** Paying twice answers the first payment again, so a caller that lost the answer can recover it. */
  payOrder(orderId: string): SimulatorOutcome<SimulatedOrder> {
    const order = this.orders.get(orderId);
    if (!order) return refusal(404, 'ORD02', 'Order not found');
    if (order.paid) return { ok: order };
    if (this.currentFaults.orderFailure === 'payment') return refusal(403, 'ORD112', 'Not enough funds');
    order.paid = true;
    order.paidAt = this.now();
    order.transactionId = randomUUID();
    order.keyReadyAt = order.paidAt + this.currentFaults.keyDelayMs;
    order.key = newKey();
    return { ok: order };
  }

  orderDetails(
    orderId: string,
  ): SimulatorOutcome<{ status: SimulatedOrderStatus; price: number; currency: string }> {
    const order = this.orders.get(orderId);
    if (!order) return refusal(404, 'ORD02', 'Order not found');
    return { ok: { status: this.orderStatus(order), price: order.price, currency: order.currency } };
  }

  /** The key once ready; asking again returns the same key. */
  orderKey(orderId: string): SimulatorOutcome<{ key: string }> {
    const order = this.orders.get(orderId);
    if (!order) return refusal(404, 'ORD02', 'Order not found');
    if (!order.paid) return refusal(402, 'ORD05', 'Payment required');
    if (!this.keyReady(order) || order.key === undefined) {
      return refusal(400, 'ORD03', 'Order is not processed yet');
    }
    order.keyDelivered = true;
    return { ok: { key: order.key } };
  }

  markKeyDelivered(orderId: string): void {
    const order = this.orders.get(orderId);
    if (order) order.keyDelivered = true;
  }

  private keyReady(order: SimulatedOrder): boolean {
    return order.keyReadyAt !== undefined && this.now() >= order.keyReadyAt;
  }

  private orderStatus(order: SimulatedOrder): SimulatedOrderStatus {
    if (!order.paid) return 'new';
    return this.keyReady(order) ? 'complete' : 'pending';
  }

  /** Numeric, 14 digits, increasing, and not reused by a later simulator process (clock-based). */
  private nextOrderId(): string {
    this.lastOrderId = Math.max(this.lastOrderId + 1, ORDER_ID_BASE + this.now());
    return String(this.lastOrderId);
  }
}
