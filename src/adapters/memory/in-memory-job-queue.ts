import { randomUUID } from 'node:crypto';
import type { SyncKind } from '../../domain/sync-run.js';
import type { JobQueue } from '../../ports/catalog.js';
import type { SyncJobRow, TableAccess } from './memory-tables.js';

/**
 * Records sync jobs in the transaction's tables, as pg-boss inserts them through the caller's transaction: a
 * job exists if and only if its transaction commits. Nothing runs them; tests read them back with `list`.
 */
export class InMemoryJobQueue implements JobQueue {
  constructor(private readonly access: TableAccess) {}

  enqueueSyncRun(run: { runId: string; kind: SyncKind }): Promise<string> {
    return this.access.write((tables) => {
      const jobId = randomUUID();
      tables.syncJobs.set(jobId, { jobId, runId: run.runId, kind: run.kind, state: 'created' });
      return jobId;
    });
  }

  /** Like pg-boss, cancelling an unknown or already cancelled job does nothing. */
  cancelSyncRun(jobId: string): Promise<void> {
    return this.access.write((tables) => {
      const job = tables.syncJobs.get(jobId);
      if (job) job.state = 'cancelled';
    });
  }

  /** Every sync job, oldest first. */
  list(): Promise<SyncJobRow[]> {
    return this.access.read((tables) => structuredClone([...tables.syncJobs.values()]));
  }
}
