import { listingTruncated, pagesFor, type SyncRun } from '../domain/sync-run.js';
import type { CatalogChanges, CatalogEntry, StockEntry, SyncProgressBoard } from '../ports/catalog.js';
import type { Clock } from '../ports/clock.js';
import { G2AError, type G2A, type G2AProductPage } from '../ports/g2a.js';
import { LockBusyError, type Lock } from '../ports/lock.js';
import type { Logger } from '../ports/logger.js';
import type { TransactionScope, UnitOfWork } from '../ports/unit-of-work.js';
import { toCatalogEntry, toStockEntry } from './catalog-entry.js';
import { invalidateCatalogChanges } from './catalog-invalidation.js';

export const SYNC_LOCK = 'g2a:sync:lock';

export interface RunSyncDeps {
  uow: UnitOfWork;
  g2a: G2A;
  lock: Lock;
  progress: SyncProgressBoard;
  clock: Clock;
  logger: Logger;
  markupPercent: number;
  staleAfterMs: number;
  /** Aborted when the process is stopping: the run gives up at its next page and is handed on, resumable. */
  stopping?: AbortSignal;
}

/** The process is stopping: the run was handed on at a page boundary. */
class StopRequested extends Error {
  constructor() {
    super('the process is stopping');
  }
}

/** `pending`, unless `stop` aborts first: then a StopRequested (what `pending` brings later is dropped). */
function unlessStopped<T>(pending: Promise<T>, stop: AbortSignal | undefined): Promise<T> {
  if (!stop) return pending;
  if (stop.aborted) return Promise.reject(new StopRequested());
  return new Promise<T>((resolve, reject) => {
    const onStop = () => reject(new StopRequested());
    stop.addEventListener('abort', onStop, { once: true });
    pending.then(
      (value) => {
        stop.removeEventListener('abort', onStop);
        resolve(value);
      },
      (error: unknown) => {
        stop.removeEventListener('abort', onStop);
        reject(error);
      },
    );
  });
}

export type RunSyncOutcome = 'finished' | 'failed' | 'skipped' | 'ignored' | 'released';

/**
 * Runs (or resumes) one sync run under the `g2a:sync:lock` lock: pages through G2A, commits each page with its
 * progress and its cache invalidations in one transaction, and continues after the last committed page when a
 * previous worker died. A catalogue run ends by delisting what it did not see.
 *
 * A transient failure releases the run for the job's retry (which resumes it) unless `finalAttempt`; a
 * permanent one (bad credentials, a bug) fails it.
 */
export async function runSync(
  deps: RunSyncDeps,
  input: { runId: string; finalAttempt: boolean },
): Promise<RunSyncOutcome> {
  const log = deps.logger.child({ runId: input.runId });
  const known = await deps.uow.run((scope) => scope.syncRuns.findById(input.runId));
  if (!known || (known.status !== 'queued' && known.status !== 'running')) return 'ignored';

  try {
    return await deps.lock.withLock(SYNC_LOCK, async (signal) => {
      const run = await deps.uow.run((scope) =>
        scope.syncRuns.start(input.runId, deps.clock.now(), deps.staleAfterMs),
      );
      if (!run) return 'ignored';
      return execute(deps, run, signal, input.finalAttempt, log.child({ operation: `sync.${run.kind}` }));
    });
  } catch (error) {
    if (!(error instanceof LockBusyError)) throw error;
    // A queued run is skipped; a run being resumed (a dead worker's, whose lock lease has not run out yet) is
    // released as it was, stale at once, so the next trigger or scheduled run resumes it.
    await deps.uow.run(async (scope) => {
      await scope.syncRuns.skip(input.runId, `${SYNC_LOCK} is held by another worker`, deps.clock.now());
      await scope.syncRuns.release(input.runId);
    });
    log.warn(
      { operation: `sync.${known.kind}`, outcome: 'skipped', resumable: known.status === 'running' },
      known.status === 'running'
        ? 'sync lock is held; run left to resume later'
        : 'sync lock is held; run skipped',
    );
    return 'skipped';
  }
}

async function execute(
  deps: RunSyncDeps,
  run: SyncRun,
  signal: AbortSignal,
  finalAttempt: boolean,
  log: Logger,
): Promise<RunSyncOutcome> {
  const started = performance.now();
  const totals: Totals = { ...run.progress, pagesDone: run.lastPage };
  let beat: Promise<unknown> = Promise.resolve();
  const heartbeat = setInterval(
    () => {
      beat = deps.uow
        .run((scope) => scope.syncRuns.heartbeat(run.runId, deps.clock.now()))
        .catch(() => undefined);
    },
    Math.max(250, deps.staleAfterMs / 4),
  );
  heartbeat.unref();
  // Stopped, and its last write awaited, before the run's last word: a late heartbeat must not revive a
  // released run.
  const stopHeartbeat = async () => {
    clearInterval(heartbeat);
    await beat;
  };
  log.info({ outcome: 'started', fromPage: run.lastPage + 1 }, `sync run started`);
  try {
    await pageThrough(deps, run, totals, signal, log);
    if (run.kind === 'catalog') await delistUnseen(deps, run, totals, signal, log);
    await stopHeartbeat();
    await deps.uow.run((scope) => scope.syncRuns.finish(run.runId, deps.clock.now()));
    await publish(deps, run, 'finished', totals);
    log.info(
      { outcome: 'finished', ...totals, durationMs: Math.round(performance.now() - started) },
      'sync run finished',
    );
    return 'finished';
  } catch (error) {
    await stopHeartbeat();
    if (error instanceof StopRequested) {
      // Handed on whole: released and queued again in one transaction, so another process (or this one's
      // successor) resumes it from its last committed page at once, without spending a retry.
      await deps.uow.run(async (scope) => {
        await scope.syncRuns.release(run.runId);
        await scope.syncRuns.attachJob(
          run.runId,
          await scope.jobs.enqueueSyncRun({ runId: run.runId, kind: run.kind }),
        );
      });
      log.info(
        {
          outcome: 'released',
          pagesDone: totals.pagesDone,
          durationMs: Math.round(performance.now() - started),
        },
        'sync run handed on: the process is stopping; it resumes from its last page',
      );
      return 'released';
    }
    const message = error instanceof Error ? error.message : String(error);
    const durationMs = Math.round(performance.now() - started);
    const permanent = error instanceof G2AError && !error.transient;
    if (permanent || finalAttempt) {
      await deps.uow.run((scope) => scope.syncRuns.fail(run.runId, message, deps.clock.now()));
      await publish(deps, run, 'failed', totals);
      log.error({ outcome: 'failed', err: message, durationMs }, 'sync run failed');
      return 'failed';
    }
    await deps.uow.run((scope) => scope.syncRuns.release(run.runId));
    log.warn(
      { outcome: 'released', err: message, durationMs },
      'sync run interrupted; it resumes from its last page',
    );
    throw error;
  } finally {
    clearInterval(heartbeat);
  }
}

interface Totals {
  pagesDone: number;
  pagesTotal: number;
  upserted: number;
  changed: number;
  /** G2A listed more products than its 500 pages show: the run did not see everything. */
  truncated?: boolean;
}

/**
 * Sequential commits, one page fetched ahead: G2A's rate limit, not the database, sets the pace. Keeps
 * `totals` current as pages commit.
 */
async function pageThrough(
  deps: RunSyncDeps,
  run: SyncRun,
  totals: Totals,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  const fetchPage = (page: number) => {
    const pending = deps.g2a.listProducts({ page, includeOutOfStock: true });
    pending.catch(() => undefined);
    return pending;
  };
  let page = run.lastPage + 1;
  let next: Promise<G2AProductPage> = fetchPage(page);
  for (;;) {
    // A page still on its way when the process stops is abandoned; the resumed run asks for it again.
    const result = await unlessStopped(next, deps.stopping);
    totals.pagesTotal = Math.max(pagesFor(result.total), page === 1 && result.docs.length === 0 ? 0 : page);
    totals.truncated ||= listingTruncated(result.total);
    // Only an empty page or the last one G2A announced ends the run: a short page in between (the listing
    // moved while it was read) must not cut the run short, or the delisting would take the rest.
    const last = result.docs.length === 0 || page >= totals.pagesTotal;
    if (!last) next = fetchPage(page + 1);

    const pageStarted = performance.now();
    const changes = await commitPage(deps, run, page, totals.pagesTotal, result);
    totals.pagesDone = page;
    totals.upserted += result.docs.length;
    totals.changed += changes.changedGameIds.length;
    await publish(deps, run, 'running', totals);
    log.debug(
      {
        outcome: 'page',
        page,
        changed: changes.changedGameIds.length,
        durationMs: Math.round(performance.now() - pageStarted),
      },
      'sync page committed',
    );
    if (last) {
      totals.pagesTotal = Math.max(totals.pagesTotal, page);
      return;
    }
    if (signal.aborted) throw new Error(`lost ${SYNC_LOCK}`);
    if (deps.stopping?.aborted) throw new StopRequested();
    page += 1;
  }
}

async function commitPage(
  deps: RunSyncDeps,
  run: SyncRun,
  page: number,
  pagesTotal: number,
  result: G2AProductPage,
): Promise<CatalogChanges> {
  return deps.uow.run(async (scope: TransactionScope) => {
    let changes: CatalogChanges;
    if (run.kind === 'catalog') {
      const entries = result.docs
        .map((product) => toCatalogEntry(product, deps.markupPercent))
        .filter((entry): entry is CatalogEntry => entry !== null);
      changes = await scope.catalog.upsertEntries(run.runId, entries);
    } else {
      const entries = result.docs
        .map((product) => toStockEntry(product, deps.markupPercent))
        .filter((entry): entry is StockEntry => entry !== null);
      changes = await scope.catalog.applyStock(entries);
    }
    await invalidateCatalogChanges(scope, changes);
    await scope.syncRuns.recordPage(run.runId, page, Math.max(pagesTotal, page), {
      upserted: result.docs.length,
      changed: changes.changedGameIds.length,
    });
    return changes;
  });
}

/** How many unseen games one run checks with G2A one by one; the rest wait for the next run. */
export const DELIST_CHECKS_PER_RUN = 500;

/**
 * Delists the listed games the run did not see — after asking G2A for each by id, because a product can slip
 * between two pages when the listing changes while it is read (or across a resumed run).
 */
async function delistUnseen(
  deps: RunSyncDeps,
  run: SyncRun,
  totals: Totals,
  signal: AbortSignal,
  log: Logger,
) {
  // An empty answer from G2A is more likely an outage than an empty marketplace: delist nothing then.
  if (totals.upserted === 0 || totals.truncated) {
    log.warn(
      { outcome: 'delist_skipped', truncated: Boolean(totals.truncated) },
      totals.truncated
        ? 'G2A listed more than its pages show; nothing is delisted'
        : 'the run saw no product; nothing is delisted',
    );
    return;
  }
  const unseen = await deps.uow.run((scope) => scope.catalog.unseenListed(run.runId, DELIST_CHECKS_PER_RUN));
  const present: string[] = [];
  const gone: string[] = [];
  for (const game of unseen) {
    if (signal.aborted) throw new Error(`lost ${SYNC_LOCK}`);
    if (deps.stopping?.aborted) throw new StopRequested();
    const found = await deps.g2a.listProducts({ page: 1, id: game.g2aProductId, includeOutOfStock: true });
    (found.docs.some((product) => product.id === game.g2aProductId) ? present : gone).push(game.id);
  }
  const delisted = await deps.uow.run(async (scope) => {
    await scope.catalog.markSeen(run.runId, present);
    const ids = await scope.catalog.delist(gone);
    await invalidateCatalogChanges(scope, {
      changedGameIds: ids,
      repricedGameIds: [],
      taxonomyChanged: false,
    });
    return ids;
  });
  if (unseen.length > 0) {
    log.info(
      { outcome: 'delisted', checked: unseen.length, delisted: delisted.length, stillListed: present.length },
      'unseen games checked',
    );
  }
}

async function publish(
  deps: RunSyncDeps,
  run: SyncRun,
  status: string,
  progress: Totals | SyncRun['progress'],
) {
  await deps.progress
    .publish({
      runId: run.runId,
      kind: run.kind,
      status,
      progress: {
        pagesDone: progress.pagesDone,
        pagesTotal: progress.pagesTotal,
        upserted: progress.upserted,
        changed: progress.changed,
      },
    })
    .catch(() => undefined);
}
