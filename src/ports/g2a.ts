/** A product as the G2A Export API lists it (`GET /v1/products`). Prices are EUR numbers as G2A sends them. */
export interface G2AProduct {
  id: string;
  name: string;
  type?: string;
  slug?: string;
  qty: number;
  minPrice: number;
  retail_min_price?: number;
  retailMinBasePrice?: number;
  availableToBuy?: boolean;
  thumbnail?: string;
  smallImage?: string;
  coverImage?: string;
  description?: string;
  region?: string;
  developer?: string;
  publisher?: string;
  platform?: string;
  release_date?: string;
  updated_at?: string;
  categories?: { id: number; name: string }[];
}

export interface G2AProductPage {
  total: number;
  page: number;
  docs: G2AProduct[];
}

export interface ListProductsQuery {
  page: number;
  includeOutOfStock?: boolean;
  id?: string;
  /** Only products with at least this stock. */
  minQty?: number;
  /** Only products updated in this range, `YYYY-MM-DD HH:mm:ss` as G2A writes `updated_at`. */
  updatedAtFrom?: string;
  updatedAtTo?: string;
}

export interface G2AOrderCreated {
  orderId: string;
  price: number;
  currency: string;
}

export interface G2AOrderDetails {
  status: string;
  price: number;
  currency: string;
}

/**
 * Why a G2A call failed, as far as the caller needs to branch on it.
 * - `rate_limited`, `unavailable`, `timeout`, `network`: transient; the client already retried.
 * - `not_ready`: the key is not processed yet; poll again later.
 * - `rejected`: a final 4xx (out of stock, price above max_price, payment refused, bad request).
 * - `not_found`: the order or product does not exist.
 * - `unauthorized`: credentials are wrong.
 */
export type G2AErrorKind =
  | 'rate_limited'
  | 'unavailable'
  | 'timeout'
  | 'network'
  | 'not_ready'
  | 'rejected'
  | 'not_found'
  | 'unauthorized';

export class G2AError extends Error {
  constructor(
    readonly kind: G2AErrorKind,
    message: string,
    readonly httpStatus?: number,
    readonly g2aCode?: string,
    /** The request never left this process (the connection could not be opened). */
    readonly unsent = false,
  ) {
    super(message);
    this.name = 'G2AError';
  }

  /**
   * Whether G2A may have acted on the request although the call failed: it gave no answer after the request
   * left (a timeout, a dropped connection), answered 5xx (a gateway may fail after the order was made), or
   * answered 2xx with a body that made no sense. A refusal (4xx), a 429 (throttled before processing) or a
   * connection never made means it did not.
   */
  get mayHaveActed(): boolean {
    if (this.httpStatus === undefined) return !this.unsent;
    return this.httpStatus < 300 || this.httpStatus >= 500;
  }

  get transient(): boolean {
    return ['rate_limited', 'unavailable', 'timeout', 'network', 'not_ready'].includes(this.kind);
  }
}

/**
 * For a call that changes state at G2A: asked right before each attempt leaves (after its slot under the rate
 * limit, and after any wait a 429 imposed). The caller renews its lease on the work there; answering false (the
 * lease was lost) stops the call unsent, so no request leaves on behalf of a worker that no longer holds it.
 */
export interface G2ASendCheck {
  mayLeave?: () => Promise<boolean>;
}

/** The G2A Export API, used to sync the catalogue and to buy keys. */
export interface G2A {
  /** One page of 20 products; `includeOutOfStock` also lists products with qty 0. */
  listProducts(query: ListProductsQuery): Promise<G2AProductPage>;
  /** Creates (reserves) an order for one unit; never retried automatically on an ambiguous failure. */
  createOrder(
    input: { productId: string; maxPriceEur: number; currency?: string },
    check?: G2ASendCheck,
  ): Promise<G2AOrderCreated>;
  /** Pays a created order. */
  payOrder(orderId: string, check?: G2ASendCheck): Promise<{ transactionId: string }>;
  getOrderDetails(orderId: string): Promise<G2AOrderDetails>;
  /** The key of a paid order; throws `G2AError('not_ready')` while G2A is still processing it. */
  getOrderKey(orderId: string): Promise<{ key: string }>;
  /** Human-readable description of the endpoint, for the start-up log. */
  describe(): string;
}
