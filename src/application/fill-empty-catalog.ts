import type { SyncRunReader } from '../ports/catalog.js';
import type { TriggerOutcome } from './trigger-sync.js';

/**
 * A shop whose catalogue never finished a sync fills it now rather than at the next scheduled slot. Answers
 * the trigger's outcome, or `null` when a catalogue run finished at some point (the schedule takes it on).
 */
export async function fillEmptyCatalog(deps: {
  syncRuns: SyncRunReader;
  triggerCatalogSync: () => Promise<TriggerOutcome>;
}): Promise<TriggerOutcome | null> {
  if (await deps.syncRuns.anyFinished('catalog')) return null;
  return deps.triggerCatalogSync();
}
