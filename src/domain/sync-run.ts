export type SyncKind = 'catalog' | 'stock';
export type SyncStatus = 'queued' | 'running' | 'finished' | 'failed' | 'skipped';
export type SyncTrigger = 'manual' | 'schedule';

export interface SyncProgress {
  pagesDone: number;
  pagesTotal: number;
  upserted: number;
  changed: number;
}

export interface SyncRun {
  runId: string;
  kind: SyncKind;
  status: SyncStatus;
  trigger: SyncTrigger;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The last page committed; a resumed run continues after it. */
  lastPage: number;
  progress: SyncProgress;
  error: string | null;
  /** The background job working on the run, so a takeover can cancel a dead worker's job. */
  jobId: string | null;
}

/** G2A lists 20 products per page. */
export const G2A_PAGE_SIZE = 20;

/** G2A serves pages 1 to 500 of one listing: at most 10,000 products without filters. */
export const G2A_MAX_PAGES = 500;

export function pagesFor(total: number): number {
  return Math.min(Math.ceil(Math.max(0, total) / G2A_PAGE_SIZE), G2A_MAX_PAGES);
}

/** True when the listing holds more products than its pages can show. */
export function listingTruncated(total: number): boolean {
  return total > G2A_MAX_PAGES * G2A_PAGE_SIZE;
}

/** A run is stale when its worker has not reported for `staleAfterMs`: it died, and the run may be resumed. */
export function isStale(heartbeatAt: Date | null, now: Date, staleAfterMs: number): boolean {
  return heartbeatAt !== null && now.getTime() - heartbeatAt.getTime() > staleAfterMs;
}
