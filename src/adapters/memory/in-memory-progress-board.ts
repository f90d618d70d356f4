import type { SyncProgressBoard } from '../../ports/catalog.js';

export type SyncProgressUpdate = Parameters<SyncProgressBoard['publish']>[0];

/** Records every published progress update; set `failing` to make it behave like an unreachable Redis. */
export class InMemoryProgressBoard implements SyncProgressBoard {
  readonly updates: SyncProgressUpdate[] = [];
  failing = false;

  async publish(update: SyncProgressUpdate): Promise<void> {
    if (this.failing) throw new Error('progress board unreachable');
    this.updates.push(structuredClone(update));
  }

  /** The updates of one run, oldest first. */
  of(runId: string): SyncProgressUpdate[] {
    return this.updates.filter((update) => update.runId === runId);
  }
}
