import { randomUUID } from 'node:crypto';
import type { SyncKind, SyncRun, SyncTrigger } from '../../domain/sync-run.js';
import type { SyncRunRepository } from '../../ports/catalog.js';
import type { Clock } from '../../ports/clock.js';
import type { MemoryTables, SyncRunRow, TableAccess } from './memory-tables.js';

const ACTIVE = new Set(['queued', 'running']);

function findActiveRow(tables: MemoryTables): SyncRunRow | undefined {
  for (const row of tables.syncRuns.values()) if (ACTIVE.has(row.run.status)) return row;
  return undefined;
}

function newRow(kind: SyncKind, trigger: SyncTrigger, now: Date): SyncRunRow {
  return {
    run: {
      runId: randomUUID(),
      kind,
      status: 'queued',
      trigger,
      startedAt: null,
      finishedAt: null,
      lastPage: 0,
      progress: { pagesDone: 0, pagesTotal: 0, upserted: 0, changed: 0 },
      error: null,
      jobId: null,
    },
    heartbeatAt: now,
    createdAt: now,
  };
}

/**
 * The `KyselySyncRunRepository` contract over the in-memory tables: at most one run queued or running across
 * both kinds, takeovers only of queued or stale runs, and status changes only from the states SQL allows.
 * Timestamps the database would stamp with `now()` come from the clock.
 */
export class InMemorySyncRunRepository implements SyncRunRepository {
  constructor(
    private readonly access: TableAccess,
    private readonly clock: Clock,
  ) {}

  queue(kind: SyncKind, trigger: SyncTrigger): Promise<SyncRun | null> {
    return this.access.write((tables) => {
      if (findActiveRow(tables)) return null;
      const row = newRow(kind, trigger, this.clock.now());
      tables.syncRuns.set(row.run.runId, row);
      return structuredClone(row.run);
    });
  }

  recordSkipped(kind: SyncKind, trigger: SyncTrigger, reason: string): Promise<SyncRun> {
    return this.access.write((tables) => {
      const now = this.clock.now();
      const row = newRow(kind, trigger, now);
      Object.assign(row.run, { status: 'skipped', error: reason, startedAt: now, finishedAt: now });
      tables.syncRuns.set(row.run.runId, row);
      return structuredClone(row.run);
    });
  }

  findActive(): Promise<SyncRun | null> {
    return this.access.read((tables) => {
      const row = findActiveRow(tables);
      return row ? structuredClone(row.run) : null;
    });
  }

  heartbeatOf(runId: string): Promise<Date | null> {
    return this.access.read((tables) => {
      const row = tables.syncRuns.get(runId);
      return row ? new Date(row.heartbeatAt) : null;
    });
  }

  findById(runId: string): Promise<SyncRun | null> {
    return this.access.read((tables) => {
      const row = tables.syncRuns.get(runId);
      return row ? structuredClone(row.run) : null;
    });
  }

  start(runId: string, now: Date, staleAfterMs: number): Promise<SyncRun | null> {
    return this.access.write((tables) => {
      const row = tables.syncRuns.get(runId);
      if (!row) return null;
      const stale = row.heartbeatAt.getTime() < now.getTime() - staleAfterMs;
      if (row.run.status !== 'queued' && !(row.run.status === 'running' && stale)) return null;
      row.run.status = 'running';
      row.run.startedAt ??= new Date(now);
      row.heartbeatAt = new Date(now);
      return structuredClone(row.run);
    });
  }

  attachJob(runId: string, jobId: string): Promise<void> {
    return this.access.write((tables) => {
      const row = tables.syncRuns.get(runId);
      if (row) row.run.jobId = jobId;
    });
  }

  release(runId: string): Promise<void> {
    return this.whileRunning(runId, (row) => {
      row.heartbeatAt = new Date(0);
    });
  }

  recordPage(
    runId: string,
    page: number,
    pagesTotal: number,
    delta: { upserted: number; changed: number },
  ): Promise<void> {
    return this.whileRunning(runId, (row) => {
      const { progress } = row.run;
      row.run.lastPage = page;
      row.run.progress = {
        pagesDone: page,
        pagesTotal,
        upserted: progress.upserted + delta.upserted,
        changed: progress.changed + delta.changed,
      };
      row.heartbeatAt = this.clock.now();
    });
  }

  heartbeat(runId: string, now: Date): Promise<void> {
    return this.whileRunning(runId, (row) => {
      row.heartbeatAt = new Date(now);
    });
  }

  finish(runId: string, now: Date): Promise<void> {
    return this.whileRunning(runId, (row) => {
      row.run.status = 'finished';
      row.run.finishedAt = new Date(now);
      row.run.progress.pagesDone = row.run.progress.pagesTotal;
      row.run.error = null;
    });
  }

  fail(runId: string, error: string, now: Date): Promise<void> {
    return this.access.write((tables) => {
      const row = tables.syncRuns.get(runId);
      if (!row || !ACTIVE.has(row.run.status)) return;
      Object.assign(row.run, { status: 'failed', finishedAt: new Date(now), error: error.slice(0, 1000) });
    });
  }

  skip(runId: string, reason: string, now: Date): Promise<void> {
    return this.access.write((tables) => {
      const row = tables.syncRuns.get(runId);
      if (row?.run.status !== 'queued') return;
      Object.assign(row.run, { status: 'skipped', finishedAt: new Date(now), error: reason });
    });
  }

  /** Newest first; runs created at the same instant in reverse creation order. */
  recent(limit: number): Promise<SyncRun[]> {
    return this.access.read((tables) =>
      [...tables.syncRuns.values()]
        .map((row, created) => ({ row, created }))
        .sort((a, b) => b.row.createdAt.getTime() - a.row.createdAt.getTime() || b.created - a.created)
        .slice(0, limit)
        .map(({ row }) => structuredClone(row.run)),
    );
  }

  private whileRunning(runId: string, change: (row: SyncRunRow) => void): Promise<void> {
    return this.access.write((tables) => {
      const row = tables.syncRuns.get(runId);
      if (row?.run.status === 'running') change(row);
    });
  }
}
