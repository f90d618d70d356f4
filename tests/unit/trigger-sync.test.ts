import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { getSyncStatus } from '../../src/application/get-sync-status.js';
import { triggerSync } from '../../src/application/trigger-sync.js';
import { DomainError } from '../../src/domain/errors.js';

const STALE_AFTER_MS = 60_000;

function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const logger = new InMemoryLogger();
  const uow = new InMemoryUnitOfWork({ clock });
  const deps = { uow, clock, logger, staleAfterMs: STALE_AFTER_MS };
  return { clock, logger, uow, deps, syncRuns: uow.repositories.syncRuns, jobs: uow.repositories.jobs };
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
    const [job, ...others] = await jobs.list();
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
    expect(await jobs.list()).toHaveLength(1);
  });

  it('refuses a manual trigger while a run is running and alive', async () => {
    const { deps, clock, syncRuns } = setup();
    const active = await triggerSync(deps, { kind: 'stock', trigger: 'manual' });
    await syncRuns.start(active.runId, clock.now(), STALE_AFTER_MS);
    clock.advance(STALE_AFTER_MS);

    const error = await refusal(triggerSync(deps, { kind: 'catalog', trigger: 'manual' }));

    expect(error.code).toBe('SYNC_IN_PROGRESS');
  });

  it('records a scheduled trigger that finds a run in progress as skipped', async () => {
    const { deps, syncRuns, jobs } = setup();
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
    expect(await syncRuns.findActive()).toMatchObject({ runId: active.runId, status: 'queued' });
    expect(await jobs.list()).toHaveLength(1);
    expect((await getSyncStatus({ syncRuns })).runs.map((run) => run.runId)).toEqual([
      outcome.runId,
      active.runId,
    ]);
  });

  it('resumes a running run whose worker stopped reporting (cancelling its job), refusing a trigger of the other kind', async () => {
    const { deps, clock, syncRuns, jobs } = setup();
    const active = await triggerSync(deps, { kind: 'catalog', trigger: 'manual' });
    await syncRuns.start(active.runId, clock.now(), STALE_AFTER_MS);
    await syncRuns.recordPage(active.runId, 3, 10, { upserted: 60, changed: 60 });
    const deadJobId = (await syncRuns.findById(active.runId))!.jobId!;
    clock.advance(STALE_AFTER_MS + 1);

    // A stock trigger finds the catalogue run dead: the run is resumed, yet the stock run asked for is refused.
    await expect(triggerSync(deps, { kind: 'stock', trigger: 'manual' })).rejects.toMatchObject({
      code: 'SYNC_IN_PROGRESS',
    });
    const [dead, fresh, ...others] = await jobs.list();
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
    const { deps, clock, jobs } = setup();
    const active = await triggerSync(deps, { kind: 'stock', trigger: 'schedule' });
    clock.advance(STALE_AFTER_MS + 1);

    const outcome = await triggerSync(deps, { kind: 'stock', trigger: 'schedule' });

    expect(outcome).toEqual({ outcome: 'resumed', runId: active.runId });
    expect((await jobs.list()).map((job) => job.state)).toEqual(['cancelled', 'created']);
  });

  it('queues again once the previous run has ended', async () => {
    const { deps, clock, syncRuns } = setup();
    const first = await triggerSync(deps, { kind: 'catalog', trigger: 'manual' });
    await syncRuns.start(first.runId, clock.now(), STALE_AFTER_MS);
    await syncRuns.finish(first.runId, clock.now());

    const second = await triggerSync(deps, { kind: 'stock', trigger: 'manual' });

    expect(second.outcome).toBe('queued');
    expect(second.runId).not.toBe(first.runId);
  });
});
