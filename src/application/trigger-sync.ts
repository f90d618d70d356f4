import { DomainError } from '../domain/errors.js';
import { isStale, type SyncKind, type SyncTrigger } from '../domain/sync-run.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';

export type TriggerOutcome =
  | { outcome: 'queued'; runId: string }
  | { outcome: 'resumed'; runId: string }
  | { outcome: 'skipped'; runId: string; activeRunId: string };

/**
 * Queues a catalogue or stock run. While another run of either kind is queued or running, a manual trigger
 * is refused (SYNC_IN_PROGRESS) and a scheduled one is recorded as skipped — unless that run went stale, in
 * which case it is resumed from its last committed page.
 */
export async function triggerSync(
  deps: { uow: UnitOfWork; clock: Clock; logger: Logger; staleAfterMs: number },
  input: { kind: SyncKind; trigger: SyncTrigger },
): Promise<TriggerOutcome> {
  const now = deps.clock.now();
  const result = await deps.uow.run(async (scope): Promise<TriggerOutcome | { busy: string }> => {
    let queued = await scope.syncRuns.queue(input.kind, input.trigger);
    let active = queued ? null : await scope.syncRuns.findActive();
    if (!queued && !active) {
      // The run that blocked the queue ended in between: the slot is free now.
      queued = await scope.syncRuns.queue(input.kind, input.trigger);
      active = queued ? null : await scope.syncRuns.findActive();
    }
    if (queued) {
      await scope.syncRuns.attachJob(
        queued.runId,
        await scope.jobs.enqueueSyncRun({ runId: queued.runId, kind: queued.kind }),
      );
      return { outcome: 'queued', runId: queued.runId };
    }
    if (!active) throw new Error('the sync queue is blocked by a run that cannot be found');
    if (isStale(await scope.syncRuns.heartbeatOf(active.runId), now, deps.staleAfterMs)) {
      // The dead worker's job would hold the queue's single active slot until it expires.
      if (active.jobId) await scope.jobs.cancelSyncRun(active.jobId);
      await scope.syncRuns.attachJob(
        active.runId,
        await scope.jobs.enqueueSyncRun({ runId: active.runId, kind: active.kind }),
      );
      // A stale run of the other kind is resumed too, but this trigger did not start what it asked for.
      if (active.kind !== input.kind && input.trigger === 'manual') return { busy: active.runId };
      return { outcome: 'resumed', runId: active.runId };
    }
    if (input.trigger === 'schedule') {
      const skipped = await scope.syncRuns.recordSkipped(
        input.kind,
        input.trigger,
        `run ${active.runId} is in progress`,
      );
      return { outcome: 'skipped', runId: skipped.runId, activeRunId: active.runId };
    }
    return { busy: active.runId };
  });
  if ('busy' in result) {
    throw new DomainError('SYNC_IN_PROGRESS', `sync run ${result.busy} is already queued or running`, {
      runId: result.busy,
    });
  }
  deps.logger.info(
    {
      operation: `sync.${input.kind}.trigger`,
      outcome: result.outcome,
      runId: result.runId,
      trigger: input.trigger,
    },
    `sync run ${result.outcome}`,
  );
  return result;
}
