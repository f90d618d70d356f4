import type { CatalogQuery, Game, Page, TaxonomyRef } from '../domain/game.js';
import type { SyncKind, SyncProgress, SyncRun, SyncTrigger } from '../domain/sync-run.js';

/** A product of a G2A page, mapped to the shop's terms (cents, slugs), ready to be stored. */
export interface CatalogEntry {
  g2aProductId: string;
  slug: string;
  name: string;
  description: string | null;
  platform: TaxonomyRef | null;
  region: string | null;
  thumbnail: string | null;
  coverImage: string | null;
  releaseDate: string | null;
  costCents: number;
  priceCents: number;
  retailPriceCents: number | null;
  qty: number;
  availableToBuy: boolean;
  g2aUpdatedAt: Date | null;
  categories: { g2aId: number; slug: string; name: string }[];
}

/** The stock and price of a product, as the stock check sees it. */
export interface StockEntry {
  g2aProductId: string;
  qty: number;
  availableToBuy: boolean;
  costCents: number;
  priceCents: number;
}

export interface CatalogChanges {
  /** Games inserted or whose shopper-visible fields changed (including relisted ones). */
  changedGameIds: string[];
  /** Games whose price changed: carts holding them show another price now. */
  repricedGameIds: string[];
  /** True when a platform or category was created, so taxonomy lists changed. */
  taxonomyChanged: boolean;
}

/** Writes the catalogue; bound to the caller's transaction (it locks the games it changes). */
export interface CatalogRepository {
  /** Upserts one page of products seen by run `runId`; curated ('shop') categories and genres are kept. */
  upsertEntries(runId: string, entries: CatalogEntry[]): Promise<CatalogChanges>;
  /** Listed games that run `runId` has not seen (yet), at most `limit` of them. */
  unseenListed(runId: string, limit: number): Promise<{ id: string; g2aProductId: string }[]>;
  /** Records that run `runId` saw these games after all (G2A confirmed them one by one). */
  markSeen(runId: string, gameIds: string[]): Promise<void>;
  /** Delists (never deletes: orders reference games) the listed ones of these games; answers their ids. */
  delist(gameIds: string[]): Promise<string[]>;
  /** Applies stock and price; answers what changed. Unknown products are ignored (the catalogue sync adds them). */
  applyStock(entries: StockEntry[]): Promise<CatalogChanges>;
}

export interface HomeSections {
  bestSellers: Game[];
  newReleases: Game[];
  deals: Game[];
}

export type TaxonomyKind = 'categories' | 'genres' | 'platforms';

/** Reads the catalogue for shoppers. */
export interface CatalogReader {
  findById(id: string): Promise<Game | null>;
  findIdBySlug(slug: string): Promise<string | null>;
  list(query: CatalogQuery): Promise<Page<Game>>;
  home(limit: number): Promise<HomeSections>;
  taxonomy(kind: TaxonomyKind): Promise<TaxonomyRef[]>;
}

/** Reads sync runs outside a transaction. */
export interface SyncRunReader {
  findById(runId: string): Promise<SyncRun | null>;
  /** The newest runs first. */
  recent(limit: number): Promise<SyncRun[]>;
  /** Whether a run of this kind ever finished. */
  anyFinished(kind: SyncKind): Promise<boolean>;
}

/** Sync runs as a transaction changes them. */
export interface SyncRunRepository extends SyncRunReader {
  /** Queues a run, or answers null when a run of either kind is already queued or running. */
  queue(kind: SyncKind, trigger: SyncTrigger): Promise<SyncRun | null>;
  /** Records a run that did not happen (a scheduled trigger that found another run), for the status list. */
  recordSkipped(kind: SyncKind, trigger: SyncTrigger, reason: string): Promise<SyncRun>;
  findActive(): Promise<SyncRun | null>;
  /** When the run's worker last reported (null for an unknown run). */
  heartbeatOf(runId: string): Promise<Date | null>;
  /**
   * queued → running, or takes over a running run whose heartbeat is older than `staleAfterMs` (its worker
   * died); answers the run, or null when it is not runnable (finished, or alive elsewhere).
   */
  start(runId: string, now: Date, staleAfterMs: number): Promise<SyncRun | null>;
  attachJob(runId: string, jobId: string): Promise<void>;
  /** Gives a running run up for an immediate takeover (its worker failed but the run can resume). */
  release(runId: string): Promise<void>;
  /** Commits a page: the resume point, the totals and the heartbeat. */
  recordPage(
    runId: string,
    page: number,
    pagesTotal: number,
    delta: { upserted: number; changed: number },
  ): Promise<void>;
  heartbeat(runId: string, now: Date): Promise<void>;
  finish(runId: string, now: Date): Promise<void>;
  fail(runId: string, error: string, now: Date): Promise<void>;
  skip(runId: string, reason: string, now: Date): Promise<void>;
}

/** Publishes live progress (`g2a:sync:progress`) for operators; best effort, Postgres keeps the truth. */
export interface SyncProgressBoard {
  publish(run: { runId: string; kind: SyncKind; status: string; progress: SyncProgress }): Promise<void>;
}
