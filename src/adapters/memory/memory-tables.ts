import type { CartOwner } from '../../domain/cart.js';
import type { SyncKind, SyncRun } from '../../domain/sync-run.js';
import type { User } from '../../domain/user.js';
import type { OutboxTopic, OutboxTopics } from '../../ports/outbox.js';
import type { StoredRefreshToken } from '../../ports/tokens.js';

export interface UserRow {
  user: User;
  passwordHash: string;
  emailVerifiedAt: Date | null;
}

export interface RefreshTokenRow extends StoredRefreshToken {
  tokenHash: string;
}

export interface EmailVerificationRow {
  tokenHash: string;
  userId: string;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface GuestSessionRow {
  id: string;
  expiresAt: Date;
}

export interface TaxonomyRow {
  id: string;
  slug: string;
  name: string;
}

export interface CategoryRow extends TaxonomyRow {
  g2aCategoryId: number | null;
}

/** A row of `games`; the platform is a reference, categories and genres live in the link tables. */
export interface GameRow {
  id: string;
  g2aProductId: string;
  slug: string;
  name: string;
  description: string | null;
  platformId: string | null;
  region: string | null;
  regionSlug: string | null;
  thumbnail: string | null;
  coverImage: string | null;
  releaseDate: string | null;
  costCents: number;
  priceCents: number;
  retailPriceCents: number | null;
  currency: string;
  qty: number;
  availableToBuy: boolean;
  delisted: boolean;
  delistedAt: Date | null;
  popularity: number;
  g2aUpdatedAt: Date | null;
  lastSeenRunId: string | null;
  lastSyncedAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

/** 'g2a' links are replaced by every sync; 'shop' links are the shop's own curation and survive it. */
export type LinkSource = 'g2a' | 'shop';

export interface GameTaxonomyLink {
  gameId: string;
  /** The category or genre. */
  termId: string;
  source: LinkSource;
}

export interface SyncRunRow {
  run: SyncRun;
  heartbeatAt: Date;
  createdAt: Date;
}

export interface SyncJobRow {
  jobId: string;
  runId: string;
  kind: SyncKind;
  state: 'created' | 'cancelled';
}

/** A row of `cart_items`: the owner is a user or a guest session, never both. */
export interface CartItemRow {
  owner: CartOwner;
  gameId: string;
  quantity: number;
  createdAt: Date;
  updatedAt: Date;
}

/** A row of `wishlist_items`. */
export interface WishlistItemRow {
  owner: CartOwner;
  gameId: string;
  createdAt: Date;
}

/** One outbox row as the workers would read it: the payload is a JSON copy of what was written. */
export type OutboxMessage = {
  [T in OutboxTopic]: { id: number; topic: T; payload: OutboxTopics[T] };
}[OutboxTopic];

/** The tables of the Postgres schema that the use cases touch, as plain maps keyed like its indexes. */
export interface MemoryTables {
  /** By id. */
  users: Map<string, UserRow>;
  /** By token hash. */
  refreshTokens: Map<string, RefreshTokenRow>;
  /** By token hash. */
  emailVerifications: Map<string, EmailVerificationRow>;
  /** By id. */
  guestSessions: Map<string, GuestSessionRow>;
  /** By id; slugs are unique. */
  platforms: Map<string, TaxonomyRow>;
  /** By id; slugs and G2A category ids are unique. */
  categories: Map<string, CategoryRow>;
  /** By id; slugs are unique. */
  genres: Map<string, TaxonomyRow>;
  /** By id; G2A product ids and slugs are unique. */
  games: Map<string, GameRow>;
  /** One link per game and category. */
  gameCategories: GameTaxonomyLink[];
  /** One link per game and genre. */
  gameGenres: GameTaxonomyLink[];
  /** By id, in creation order. */
  syncRuns: Map<string, SyncRunRow>;
  /** The background jobs enqueued for sync runs, by job id, in creation order. */
  syncJobs: Map<string, SyncJobRow>;
  /** One line per owner and game. */
  cartItems: CartItemRow[];
  /** One entry per owner and game. */
  wishlistItems: WishlistItemRow[];
  outbox: OutboxMessage[];
  lastOutboxId: number;
}

export function emptyTables(): MemoryTables {
  return {
    users: new Map(),
    refreshTokens: new Map(),
    emailVerifications: new Map(),
    guestSessions: new Map(),
    platforms: new Map(),
    categories: new Map(),
    genres: new Map(),
    games: new Map(),
    gameCategories: [],
    gameGenres: [],
    syncRuns: new Map(),
    syncJobs: new Map(),
    cartItems: [],
    wishlistItems: [],
    outbox: [],
    lastOutboxId: 0,
  };
}

/** How a repository reaches the tables: inside a transaction, or one autocommitted statement at a time. */
export interface TableAccess {
  read<R>(query: (tables: MemoryTables) => R): Promise<R>;
  /** `change` must check before it mutates: a statement that throws leaves the tables as they were. */
  write<R>(change: (tables: MemoryTables) => R): Promise<R>;
}

const SQLSTATE_OF_VIOLATION = { unique: '23505', 'foreign key': '23503', check: '23514' } as const;

/** The errors PostgreSQL raises for the same violations, with the same SQLSTATE codes. */
export function constraintViolation(kind: keyof typeof SQLSTATE_OF_VIOLATION, constraint: string): Error {
  const error = new Error(`${kind} constraint "${constraint}" violated`);
  return Object.assign(error, { code: SQLSTATE_OF_VIOLATION[kind], constraint });
}

/** The owner as a row holds it: its own copy, with nothing but the owner's id. */
export function storedOwner(owner: CartOwner): CartOwner {
  return owner.kind === 'user'
    ? { kind: 'user', userId: owner.userId }
    : { kind: 'guest', sessionId: owner.sessionId };
}

export function isOwnedBy(row: { owner: CartOwner }, owner: CartOwner): boolean {
  return owner.kind === 'user'
    ? row.owner.kind === 'user' && row.owner.userId === owner.userId
    : row.owner.kind === 'guest' && row.owner.sessionId === owner.sessionId;
}

/**
 * The foreign keys of a new `cart_items` or `wishlist_items` row: its owner and its game must exist. A guest
 * session that expired but is not deleted yet still exists, as in PostgreSQL.
 */
export function checkLineReferences(
  tables: MemoryTables,
  table: 'cart_items' | 'wishlist_items',
  owner: CartOwner,
  gameId: string,
): void {
  const ownerExists =
    owner.kind === 'user' ? tables.users.has(owner.userId) : tables.guestSessions.has(owner.sessionId);
  if (!ownerExists) {
    throw constraintViolation(
      'foreign key',
      `${table}_${owner.kind === 'user' ? 'user' : 'session'}_id_fkey`,
    );
  }
  if (!tables.games.has(gameId)) throw constraintViolation('foreign key', `${table}_game_id_fkey`);
}

/** `ORDER BY created_at, game_id`: lines written in one transaction share a time and fall back to the game id. */
export function oldestLineFirst(
  a: { createdAt: Date; gameId: string },
  b: { createdAt: Date; gameId: string },
): number {
  const byAge = a.createdAt.getTime() - b.createdAt.getTime();
  if (byAge !== 0) return byAge;
  return a.gameId < b.gameId ? -1 : a.gameId > b.gameId ? 1 : 0;
}

/** `ON DELETE CASCADE` from `guest_sessions` to the lines the sessions own. */
export function deleteGuestSessionLines(tables: MemoryTables, sessionIds: Set<string>): void {
  const kept = (row: { owner: CartOwner }) =>
    row.owner.kind !== 'guest' || !sessionIds.has(row.owner.sessionId);
  tables.cartItems = tables.cartItems.filter(kept);
  tables.wishlistItems = tables.wishlistItems.filter(kept);
}
