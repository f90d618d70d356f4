import type { SyncRun } from '../domain/sync-run.js';
import type { SyncRunRepository } from '../ports/catalog.js';

const STATUS_RUNS = 20;

export async function getSyncStatus(deps: { syncRuns: SyncRunRepository }): Promise<{ runs: SyncRun[] }> {
  return { runs: await deps.syncRuns.recent(STATUS_RUNS) };
}
