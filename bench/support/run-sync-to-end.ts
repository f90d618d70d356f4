import { setTimeout as sleep } from 'node:timers/promises';
import { withPgClient } from './with-pg-client.js';

export interface SyncRunFigures {
  runId: string;
  kind: 'catalog' | 'stock';
  status: string;
  error: string | null;
  /** From sending the trigger until this process saw the run ended (polled every 50 ms). */
  wallMs: number;
  /** From the worker starting the run to its finish, as the run recorded them. */
  runMs: number;
  pagesDone: number;
  pagesTotal: number;
  upserted: number;
  changed: number;
}

const POLL_MS = 50;
const PROGRESS_EVERY_MS = 10_000;

interface SyncRunRow {
  status: string;
  error: string | null;
  started_at: Date | null;
  finished_at: Date | null;
  pages_done: number;
  pages_total: number;
  upserted: number;
  changed: number;
}

/**
 * Starts a sync through the admin API (`POST /api/v1/admin/sync/{kind}`) and polls its `sync_runs` row until
 * it is neither queued nor running; throws after `timeoutMs`.
 */
export async function runSyncToEnd(options: {
  shopUrl: string;
  authorization: string;
  databaseUrl: string;
  kind: 'catalog' | 'stock';
  timeoutMs: number;
  log?: (message: string) => void;
}): Promise<SyncRunFigures> {
  return withPgClient(options.databaseUrl, async (client) => {
    const started = performance.now();
    const response = await fetch(`${options.shopUrl}/api/v1/admin/sync/${options.kind}`, {
      method: 'POST',
      headers: { authorization: options.authorization },
    });
    const body = await response.text();
    if (response.status !== 202) throw new Error(`sync trigger answered ${response.status}: ${body}`);
    const { runId } = JSON.parse(body) as { runId: string };

    let lastProgress = started;
    for (;;) {
      const { rows } = await client.query<SyncRunRow>(
        `SELECT status, error, started_at, finished_at, pages_done, pages_total, upserted, changed
           FROM sync_runs WHERE id = $1`,
        [runId],
      );
      const run = rows[0];
      const now = performance.now();
      if (run && run.status !== 'queued' && run.status !== 'running') {
        return {
          runId,
          kind: options.kind,
          status: run.status,
          error: run.error,
          wallMs: now - started,
          runMs:
            run.started_at && run.finished_at ? run.finished_at.getTime() - run.started_at.getTime() : NaN,
          pagesDone: run.pages_done,
          pagesTotal: run.pages_total,
          upserted: run.upserted,
          changed: run.changed,
        };
      }
      if (now - started > options.timeoutMs) {
        throw new Error(
          `${options.kind} sync ${runId} still ${run?.status ?? 'missing'} after ${options.timeoutMs} ms`,
        );
      }
      if (run && options.log && now - lastProgress >= PROGRESS_EVERY_MS) {
        lastProgress = now;
        options.log(`${options.kind} sync: ${run.status}, page ${run.pages_done} of ${run.pages_total}`);
      }
      await sleep(POLL_MS);
    }
  });
}
