import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { PG_BOSS_SCHEMA } from '../../src/adapters/jobs/outbox-worker.js';
import { fillEmptyCatalog } from '../../src/application/fill-empty-catalog.js';
import { triggerSync } from '../../src/application/trigger-sync.js';
import type { SyncKind, SyncStatus } from '../../src/domain/sync-run.js';
import { startGround, type Ground } from '../support/ground.js';

const HOUR_MS = 3600 * 1000;

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());
// Each test tells its own history of runs: it starts without any.
beforeEach(async () => {
  await sql`DELETE FROM sync_runs`.execute(ground.db);
  await sql`DELETE FROM ${sql.raw(PG_BOSS_SCHEMA)}.job`.execute(ground.db);
});

type PastRun = { kind: SyncKind; status: Exclude<SyncStatus, 'queued' | 'running'>; hoursAgo: number };

function setup() {
  const { uow, clock, logger } = ground;
  // The shop's own trigger: a scheduled catalogue run.
  const triggerCatalogSync = vi.fn(() =>
    triggerSync({ uow, clock, logger, staleAfterMs: 60_000 }, { kind: 'catalog', trigger: 'schedule' }),
  );
  const fill = () => fillEmptyCatalog({ syncRuns: ground.readers.syncRuns, triggerCatalogSync });
  /** Runs of the past, each ended `hoursAgo` hours ago. */
  const pastRuns = async (...runs: PastRun[]) => {
    await ground.db
      .insertInto('sync_runs')
      .values(
        runs.map(({ kind, status, hoursAgo }) => {
          const at = new Date(clock.now().getTime() - hoursAgo * HOUR_MS);
          const times = { started_at: at, finished_at: at, heartbeat_at: at, created_at: at };
          return { kind, status, trigger: 'schedule' as const, ...times };
        }),
      )
      .execute();
  };
  return { fill, triggerCatalogSync, pastRuns };
}

describe('fillEmptyCatalog', () => {
  it('triggers a catalogue run when no catalogue run ever finished', async () => {
    const { fill, triggerCatalogSync, pastRuns } = setup();
    await pastRuns(
      { kind: 'catalog', status: 'failed', hoursAgo: 5 },
      { kind: 'catalog', status: 'skipped', hoursAgo: 4 },
    );

    const outcome = await fill();

    expect(outcome).toEqual({ outcome: 'queued', runId: expect.any(String) });
    expect(triggerCatalogSync).toHaveBeenCalledTimes(1);
    expect(await ground.readers.syncRuns.findById(outcome!.runId)).toMatchObject({
      kind: 'catalog',
      status: 'queued',
      trigger: 'schedule',
    });
  });

  it('leaves the catalogue to the schedule once a catalogue run finished, however long ago', async () => {
    const { fill, triggerCatalogSync, pastRuns } = setup();
    await pastRuns({ kind: 'catalog', status: 'finished', hoursAgo: 24 * 90 });
    // Sixty newer runs, none a finished catalogue run: finished stock runs, failed and skipped catalogue runs.
    await pastRuns(
      ...Array.from({ length: 60 }, (_, i): PastRun => ({
        kind: i % 2 ? 'stock' : 'catalog',
        status: i % 2 ? 'finished' : i % 4 ? 'failed' : 'skipped',
        hoursAgo: 60 - i,
      })),
    );
    // Far behind the newest runs, where a status list does not reach.
    const recent = await ground.readers.syncRuns.recent(50);
    expect(recent.some((run) => run.kind === 'catalog' && run.status === 'finished')).toBe(false);

    expect(await fill()).toBeNull();

    expect(triggerCatalogSync).not.toHaveBeenCalled();
    expect(await ground.readers.syncRuns.recent(100)).toHaveLength(61);
  });

  it('triggers a catalogue run when only stock runs finished', async () => {
    const { fill, triggerCatalogSync, pastRuns } = setup();
    await pastRuns(
      { kind: 'stock', status: 'finished', hoursAgo: 2 },
      { kind: 'stock', status: 'finished', hoursAgo: 1 },
    );

    const outcome = await fill();

    expect(outcome).toMatchObject({ outcome: 'queued' });
    expect(triggerCatalogSync).toHaveBeenCalledTimes(1);
    expect(await ground.readers.syncRuns.findById(outcome!.runId)).toMatchObject({ kind: 'catalog' });
  });
});
