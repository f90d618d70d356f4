import type { SyncKind } from '../domain/sync-run.js';

/** Schedules background work inside the caller's transaction: a job exists if and only if it commits. */
export interface JobQueue {
  /** Answers the job's id. */
  enqueueSyncRun(run: { runId: string; kind: SyncKind }): Promise<string>;
  /** Cancels a sync job (a dead worker's), freeing the queue's single active slot. */
  cancelSyncRun(jobId: string): Promise<void>;
}
