import { sql } from 'kysely';
import type { SyncRunCounts } from '../metrics/shop-metrics.js';
import type { Db } from './db.js';

/** Sync runs by kind and status, with the duration and end of the newest ended one (for `/metrics`). */
export async function syncRunCounts(db: Db): Promise<SyncRunCounts[]> {
  const { rows } = await sql<{
    kind: string;
    status: string;
    runs: number;
    last_duration: number | null;
    last_ended: number | null;
  }>`SELECT kind, status, count(*)::int AS runs,
       (array_agg(extract(epoch FROM finished_at - started_at)::float8 ORDER BY finished_at DESC)
          FILTER (WHERE finished_at IS NOT NULL AND started_at IS NOT NULL))[1] AS last_duration,
       extract(epoch FROM max(finished_at))::float8 AS last_ended
     FROM sync_runs GROUP BY kind, status ORDER BY kind, status`.execute(db);
  return rows.map((row) => ({
    kind: row.kind,
    status: row.status,
    runs: row.runs,
    lastDurationSeconds: row.last_duration,
    lastEndedAtSeconds: row.last_ended,
  }));
}
