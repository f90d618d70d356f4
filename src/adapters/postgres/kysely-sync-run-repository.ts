import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { SyncKind, SyncRun, SyncTrigger } from '../../domain/sync-run.js';
import type { SyncRunReader, SyncRunRepository } from '../../ports/catalog.js';
import type { Database, SyncRunsTable } from './schema.js';

function toSyncRun(row: Selectable<SyncRunsTable>): SyncRun {
  return {
    runId: row.id,
    kind: row.kind,
    status: row.status,
    trigger: row.trigger,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    lastPage: row.last_page,
    progress: {
      pagesDone: row.pages_done,
      pagesTotal: row.pages_total,
      upserted: row.upserted,
      changed: row.changed,
    },
    error: row.error,
    jobId: row.job_id,
  };
}

export class KyselySyncRunReader implements SyncRunReader {
  constructor(protected readonly db: Kysely<Database>) {}

  async findById(runId: string): Promise<SyncRun | null> {
    const row = await this.db.selectFrom('sync_runs').selectAll().where('id', '=', runId).executeTakeFirst();
    return row ? toSyncRun(row) : null;
  }

  async recent(limit: number): Promise<SyncRun[]> {
    const rows = await this.db
      .selectFrom('sync_runs')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toSyncRun);
  }

  async anyFinished(kind: SyncKind): Promise<boolean> {
    const row = await this.db
      .selectFrom('sync_runs')
      .select('id')
      .where('kind', '=', kind)
      .where('status', '=', 'finished')
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }
}

export class KyselySyncRunRepository extends KyselySyncRunReader implements SyncRunRepository {
  constructor(tx: Transaction<Database>) {
    super(tx);
  }

  async queue(kind: SyncKind, trigger: SyncTrigger): Promise<SyncRun | null> {
    // The partial unique index admits one queued-or-running run, whatever its kind; a loser inserts nothing.
    const row = await sql<Selectable<SyncRunsTable>>`
      INSERT INTO sync_runs (kind, status, trigger) VALUES (${kind}, 'queued', ${trigger})
      ON CONFLICT ((true)) WHERE status IN ('queued', 'running') DO NOTHING
      RETURNING *`.execute(this.db);
    return row.rows[0] ? toSyncRun(row.rows[0]) : null;
  }

  async recordSkipped(kind: SyncKind, trigger: SyncTrigger, reason: string): Promise<SyncRun> {
    const now = new Date();
    const row = await this.db
      .insertInto('sync_runs')
      .values({ kind, trigger, status: 'skipped', error: reason, started_at: now, finished_at: now })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toSyncRun(row);
  }

  async findActive(): Promise<SyncRun | null> {
    const row = await this.db
      .selectFrom('sync_runs')
      .selectAll()
      .where('status', 'in', ['queued', 'running'])
      .executeTakeFirst();
    return row ? toSyncRun(row) : null;
  }

  async heartbeatOf(runId: string): Promise<Date | null> {
    const row = await this.db
      .selectFrom('sync_runs')
      .select('heartbeat_at')
      .where('id', '=', runId)
      .executeTakeFirst();
    return row?.heartbeat_at ?? null;
  }

  async start(runId: string, now: Date, staleAfterMs: number): Promise<SyncRun | null> {
    const staleBefore = new Date(now.getTime() - staleAfterMs);
    const row = await this.db
      .updateTable('sync_runs')
      .set((eb) => ({
        status: 'running',
        started_at: eb.fn.coalesce('started_at', eb.val(now)),
        heartbeat_at: now,
      }))
      .where('id', '=', runId)
      .where((eb) =>
        eb.or([
          eb('status', '=', 'queued'),
          eb.and([eb('status', '=', 'running'), eb('heartbeat_at', '<', staleBefore)]),
        ]),
      )
      .returningAll()
      .executeTakeFirst();
    return row ? toSyncRun(row) : null;
  }

  async recordPage(
    runId: string,
    page: number,
    pagesTotal: number,
    delta: { upserted: number; changed: number },
  ): Promise<void> {
    await this.db
      .updateTable('sync_runs')
      .set((eb) => ({
        last_page: page,
        pages_done: page,
        pages_total: pagesTotal,
        upserted: eb('upserted', '+', delta.upserted),
        changed: eb('changed', '+', delta.changed),
        heartbeat_at: new Date(),
      }))
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .execute();
  }

  async attachJob(runId: string, jobId: string): Promise<void> {
    await this.db.updateTable('sync_runs').set({ job_id: jobId }).where('id', '=', runId).execute();
  }

  async release(runId: string): Promise<void> {
    await this.db
      .updateTable('sync_runs')
      .set({ heartbeat_at: new Date(0) })
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .execute();
  }

  async heartbeat(runId: string, now: Date): Promise<void> {
    await this.db
      .updateTable('sync_runs')
      .set({ heartbeat_at: now })
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .execute();
  }

  async finish(runId: string, now: Date): Promise<void> {
    await this.db
      .updateTable('sync_runs')
      .set((eb) => ({ status: 'finished', finished_at: now, pages_done: eb.ref('pages_total'), error: null }))
      .where('id', '=', runId)
      .where('status', '=', 'running')
      .execute();
  }

  async fail(runId: string, error: string, now: Date): Promise<void> {
    await this.db
      .updateTable('sync_runs')
      .set({ status: 'failed', finished_at: now, error: error.slice(0, 1000) })
      .where('id', '=', runId)
      .where('status', 'in', ['queued', 'running'])
      .execute();
  }

  async skip(runId: string, reason: string, now: Date): Promise<void> {
    await this.db
      .updateTable('sync_runs')
      .set({ status: 'skipped', finished_at: now, error: reason })
      .where('id', '=', runId)
      .where('status', '=', 'queued')
      .execute();
  }
}
