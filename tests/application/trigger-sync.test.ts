import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { PG_BOSS_SCHEMA } from '../../src/adapters/jobs/outbox-worker.js';
import { SYNC_RUN_QUEUE } from '../../src/adapters/jobs/sync-queues.js';
import { getSyncStatus } from '../../src/application/get-sync-status.js';
import { triggerSync } from '../../src/application/trigger-sync.js';
import { DomainError } from '../../src/domain/errors.js';
import type { SyncKind } from '../../src/domain/sync-run.js';
import type { SyncRunRepository } from '../../src/ports/catalog.js';
import { startGround, type Ground } from '../support/ground.js';

const STALE_AFTER_MS = 60_000;

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());
// Every test counts the runs and jobs there are: each starts without any (far cheaper than a ground of its
// own), the clock at real now.
beforeEach(async () => {
  await sql`DELETE FROM sync_runs`.execute(ground.db);
  await sql`DELETE FROM ${sql.raw(PG_BOSS_SCHEMA)}.job`.execute(ground.db);
  ground.clock.set(new Date());
});

function setup() {
  const { clock, uow } = ground;
  const logger = new InMemoryLogger();
  const deps = { uow, clock, logger, staleAfterMs: STALE_AFTER_MS };
  /** Sync runs as a transaction changes them (a worker's side of the story). */
  const runs = <T>(work: (syncRuns: SyncRunRepository) => Promise<T>) =>
    uow.run((scope) => work(scope.syncRuns));
  /** The pg-boss jobs of the sync queue, in the order they were sent (no worker runs, so none moves on). */
  const jobs = async () => {
    const rows = await sql<{ id: string; state: string; data: { runId: string; kind: SyncKind } }>`
      SELECT id, state, data FROM ${sql.raw(PG_BOSS_SCHEMA)}.job
      WHERE name = ${SYNC_RUN_QUEUE} ORDER BY created_on, ctid`.execute(ground.db);
    return rows.rows.map((row) => ({
      jobId: row.id,
      runId: row.data.runId,
      kind: row.data.kind,
      state: row.state,
    }));
  };
  /**
   * Moves the clock just past the staleness of the run's last report. A queued run's report is the database's
   * `now()` at queueing and a committed page's the process's time, not the clock's: the clock is moved from
   * what is stored.
   */
  const goStale = async (runId: string) => {
    const heartbeat = (await runs((syncRuns) => syncRuns.heartbeatOf(runId)))!;
    clock.set(new Date(heartbeat.getTime() + STALE_AFTER_MS + 1));
  };
  return { clock, logger, deps, runs, jobs, goStale, syncRuns: ground.readers.syncRuns };
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('triggerSync', () => {
  it('queues a run and enqueues its job in the same transaction', async () => {
    const { deps, syncRuns, jobs, logger } = setup();

    const outcome = await triggerSync(deps, { kind: 'catalog', trigger: 'manual' });

    expect(outcome).toEqual({ outcome: 'queued', runId: expect.any(String) });
    const run = await syncRuns.findById(outcome.runId);
    expect(run).toMatchObject({ kind: 'catalog', status: 'queued', trigger: 'manual', lastPage: 0 });
    const [job, ...others] = await jobs();
    expect(others).toEqual([]);
    expect(job).toMatchObject({ runId: outcome.runId, kind: 'catalog', state: 'created' });
    expect(run!.jobId).toBe(job!.jobId);
    expect(logger.at('info')[0]?.fields).toMatchObject({
      operation: 'sync.catalog.trigger',
      outcome: 'queued',
    });
  });

  it.each([
    ['catalog', 'catalog'],
    ['catalog', 'stock'],
    ['stock', 'catalog'],
  ] as const)('refuses a manual %s trigger while a %s run is queued', async (activeKind, requestedKind) => {
    const { deps, jobs } = setup();
    const active = await triggerSync(deps, { kind: activeKind, trigger: 'schedule' });

    const error = await refusal(triggerSync(deps, { kind: requestedKind, trigger: 'manual' }));

    expect(error.code).toBe('SYNC_IN_PROGRESS');
    expect(error.details).toEqual({ runId: active.runId });
    expect(await jobs()).toHaveLength(1);
  });

  it('refuses a manual trigger while a run is running and alive', async () => {
    const { deps, clock, runs } = setup();
    const active = await triggerSync(deps, { kind: 'stock', trigger: 'manual' });
    // Started at the clock's time: exactly `staleAfterMs` later, the worker still counts as alive.
    await runs((syncRuns) => syncRuns.start(active.runId, clock.now(), STALE_AFTER_MS));
    clock.advance(STALE_AFTER_MS);

    const error = await refusal(triggerSync(deps, { kind: 'catalog', trigger: 'manual' }));

    expect(error.code).toBe('SYNC_IN_PROGRESS');
  });

  it('records a scheduled trigger that finds a run in progress as skipped', async () => {
    const { deps, syncRuns, runs, jobs } = setup();
    const active = await triggerSync(deps, { kind: 'catalog', trigger: 'manual' });

    const outcome = await triggerSync(deps, { kind: 'stock', trigger: 'schedule' });

    expect(outcome).toEqual({ outcome: 'skipped', runId: expect.any(String), activeRunId: active.runId });
    expect(outcome.runId).not.toBe(active.runId);
    expect(await syncRuns.findById(outcome.runId)).toMatchObject({
      kind: 'stock',
      trigger: 'schedule',
      status: 'skipped',
      error: `run ${active.runId} is in progress`,
      jobId: null,
    });
    expect(await runs((repository) => repository.findActive())).toMatchObject({
      runId: active.runId,
      status: 'queued',
    });
    expect(await jobs()).toHaveLength(1);
    expect((await getSyncStatus({ syncRuns })).runs.map((run) => run.runId)).toEqual([
      outcome.runId,
      active.runId,
    ]);
  });

  it('resumes a running run whose worker stopped reporting (cancelling its job), refusing a trigger of the other kind', async () => {
    const { deps, clock, syncRuns, runs, jobs, goStale } = setup();
    const active = await triggerSync(deps, { kind: 'catalog', trigger: 'manual' });
    await runs((repository) => repository.start(active.runId, clock.now(), STALE_AFTER_MS));
    await runs((repository) => repository.recordPage(active.runId, 3, 10, { upserted: 60, changed: 60 }));
    const deadJobId = (await syncRuns.findById(active.runId))!.jobId!;
    await goStale(active.runId);

    // A stock trigger finds the catalogue run dead: the run is resumed, yet the stock run asked for is refused.
    await expect(triggerSync(deps, { kind: 'stock', trigger: 'manual' })).rejects.toMatchObject({
      code: 'SYNC_IN_PROGRESS',
    });
    const [dead, fresh, ...others] = await jobs();
    expect(others).toEqual([]);
    expect(dead).toMatchObject({ jobId: deadJobId, state: 'cancelled' });
    expect(fresh).toMatchObject({ runId: active.runId, kind: 'catalog', state: 'created' });
    expect(await syncRuns.findById(active.runId)).toMatchObject({
      status: 'running',
      lastPage: 3,
      jobId: fresh!.jobId,
    });
  });

  it('resumes a queued run that no worker picked up in time', async () => {
    const { deps, jobs, goStale } = setup();
    const active = await triggerSync(deps, { kind: 'stock', trigger: 'schedule' });
    await goStale(active.runId);

    const outcome = await triggerSync(deps, { kind: 'stock', trigger: 'schedule' });

    expect(outcome).toEqual({ outcome: 'resumed', runId: active.runId });
    expect((await jobs()).map((job) => job.state)).toEqual(['cancelled', 'created']);
  });

  it('queues again once the previous run has ended', async () => {
    const { deps, clock, runs } = setup();
    const first = await triggerSync(deps, { kind: 'catalog', trigger: 'manual' });
    await runs((syncRuns) => syncRuns.start(first.runId, clock.now(), STALE_AFTER_MS));
    await runs((syncRuns) => syncRuns.finish(first.runId, clock.now()));

    const second = await triggerSync(deps, { kind: 'stock', trigger: 'manual' });

    expect(second.outcome).toBe('queued');
    expect(second.runId).not.toBe(first.runId);
  });
});
