import type { SyncRun } from '../domain/sync-run.js';
import type { SyncRunReader } from '../ports/catalog.js';

const STATUS_RUNS = 20;

export async function getSyncStatus(deps: { syncRuns: SyncRunReader }): Promise<{ runs: SyncRun[] }> {
  return { runs: await deps.syncRuns.recent(STATUS_RUNS) };
}
