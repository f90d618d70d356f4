import type { ColumnType, Generated } from 'kysely';
import type { LedgerEntryType } from '../../domain/ledger.js';
import type { OrderStatus, OrderUnitState } from '../../domain/order.js';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UsersTable {
  id: Generated<string>;
  email: string;
  password_hash: string;
  nickname: string | null;
  first_name: string | null;
  last_name: string | null;
  role: ColumnType<'customer' | 'admin', 'customer' | 'admin' | undefined, 'customer' | 'admin'>;
  email_verified_at: NullableTimestamp;
  balance_cents: ColumnType<number, number | undefined, number>;
  sessions_valid_after: ColumnType<Date | null, never, Date>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface EmailVerificationTokensTable {
  token_hash: string;
  user_id: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  token_hash: string;
  family_id: string;
  user_id: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface GuestSessionsTable {
  id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

/** rate-limiter-flexible's PostgreSQL store (written by the library, read by operators and tests). */
export interface RateLimitPointsTable {
  key: string;
  points: number;
  /** Epoch milliseconds (bigint, read as text). */
  expire: string | null;
}

export interface RateLimitHitsTable {
  key: string;
  hits: number;
  reset_at: Timestamp;
}

export interface Database extends CatalogDatabase, CartDatabase, OrderDatabase {
  users: UsersTable;
  email_verification_tokens: EmailVerificationTokensTable;
  refresh_tokens: RefreshTokensTable;
  guest_sessions: GuestSessionsTable;
  rate_limit_hits: RateLimitHitsTable;
  rate_limit_points: RateLimitPointsTable;
}

export interface TaxonomyTable {
  id: Generated<string>;
  slug: string;
  name: string;
  created_at: Timestamp;
}

export interface CategoriesTable extends TaxonomyTable {
  g2a_category_id: number | null;
}

export interface GamesTable {
  id: Generated<string>;
  g2a_product_id: string;
  slug: string;
  name: string;
  description: string | null;
  platform_id: string | null;
  region: string | null;
  region_slug: string | null;
  thumbnail: string | null;
  cover_image: string | null;
  release_date: ColumnType<string | null, string | null | undefined, string | null>;
  cost_cents: number;
  price_cents: number;
  retail_price_cents: number | null;
  currency: ColumnType<string, string | undefined, string>;
  qty: number;
  available_to_buy: boolean;
  delisted: ColumnType<boolean, boolean | undefined, boolean>;
  delisted_at: NullableTimestamp;
  popularity: ColumnType<number, number | undefined, number>;
  g2a_updated_at: NullableTimestamp;
  last_seen_run_id: string | null;
  last_synced_at: Timestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface GameCategoriesTable {
  game_id: string;
  category_id: string;
  source: ColumnType<'g2a' | 'shop', 'g2a' | 'shop' | undefined, 'g2a' | 'shop'>;
}

export interface GameGenresTable {
  game_id: string;
  genre_id: string;
  source: ColumnType<'g2a' | 'shop', 'g2a' | 'shop' | undefined, 'g2a' | 'shop'>;
}

export interface SyncRunsTable {
  id: Generated<string>;
  kind: 'catalog' | 'stock';
  status: 'queued' | 'running' | 'finished' | 'failed' | 'skipped';
  trigger: 'manual' | 'schedule';
  last_page: ColumnType<number, number | undefined, number>;
  pages_done: ColumnType<number, number | undefined, number>;
  pages_total: ColumnType<number, number | undefined, number>;
  upserted: ColumnType<number, number | undefined, number>;
  changed: ColumnType<number, number | undefined, number>;
  error: string | null;
  job_id: string | null;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  heartbeat_at: Timestamp;
  created_at: Timestamp;
}

export interface CatalogDatabase {
  platforms: TaxonomyTable;
  categories: CategoriesTable;
  genres: TaxonomyTable;
  games: GamesTable;
  game_categories: GameCategoriesTable;
  game_genres: GameGenresTable;
  sync_runs: SyncRunsTable;
}

export interface CartItemsTable {
  id: Generated<string>;
  user_id: string | null;
  session_id: string | null;
  game_id: string;
  quantity: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface WishlistItemsTable {
  id: Generated<string>;
  user_id: string | null;
  session_id: string | null;
  game_id: string;
  created_at: Timestamp;
}

export interface CartDatabase {
  cart_items: CartItemsTable;
  wishlist_items: WishlistItemsTable;
}

export interface OrdersTable {
  id: Generated<string>;
  user_id: string;
  status: OrderStatus;
  total_cents: number;
  currency: ColumnType<string, string | undefined, string>;
  source: 'cart' | 'items';
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface OrderLinesTable {
  id: Generated<string>;
  order_id: string;
  position: number;
  game_id: string;
  name: string;
  g2a_product_id: string;
  quantity: number;
  unit_price_cents: number;
  unit_cost_cents: number;
}

export interface OrderUnitsTable {
  id: Generated<string>;
  order_id: string;
  line_id: string;
  state: ColumnType<OrderUnitState, OrderUnitState | undefined, OrderUnitState>;
  created_at: Timestamp;
  updated_at: Timestamp;
  g2a_order_id: string | null;
  g2a_price_cents: number | null;
  create_started_at: NullableTimestamp;
  paid_at: NullableTimestamp;
  key_ciphertext: Buffer | null;
  key_iv: Buffer | null;
  key_auth_tag: Buffer | null;
  key_key_id: string | null;
  delivered_at: NullableTimestamp;
  failure_reason: string | null;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  lease_owner: string | null;
  lease_until: NullableTimestamp;
  flagged_at: NullableTimestamp;
  flag_reason: string | null;
  last_error: string | null;
}

export interface G2AWebhookEventsTable {
  event_id: string;
  g2a_order_id: string;
  status: string;
  received_at: Timestamp;
  applied_at: NullableTimestamp;
}

export interface RateLimitersTable {
  name: string;
  tat_ms: number;
  demand_until_ms: ColumnType<number, number | undefined, number>;
}

export interface TransactionsTable {
  id: Generated<string>;
  user_id: string;
  /** Set by the chain trigger, with `balance_after_cents`. */
  seq: ColumnType<number, never, never>;
  type: LedgerEntryType;
  amount_cents: number;
  balance_after_cents: ColumnType<number, never, never>;
  order_id: string | null;
  order_unit_id: string | null;
  reference: string | null;
  created_at: ColumnType<Date, never, never>;
}

export interface IdempotencyKeysTable {
  user_id: string;
  key: string;
  request_hash: string;
  response_status: number;
  response_body: string;
  created_at: Timestamp;
}

export interface OrderDatabase {
  orders: OrdersTable;
  order_lines: OrderLinesTable;
  order_units: OrderUnitsTable;
  transactions: TransactionsTable;
  idempotency_keys: IdempotencyKeysTable;
  g2a_webhook_events: G2AWebhookEventsTable;
  rate_limiters: RateLimitersTable;
}
