import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { G2ASimulatorState } from '../../src/adapters/g2a/simulator-state.js';
import { PG_BOSS_SCHEMA } from '../../src/adapters/jobs/outbox-worker.js';
import { InMemoryG2A } from '../../src/adapters/memory/in-memory-g2a.js';
import { InMemoryLock } from '../../src/adapters/memory/in-memory-lock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryProgressBoard } from '../../src/adapters/memory/in-memory-progress-board.js';
import { runSync, SYNC_LOCK, type RunSyncDeps } from '../../src/application/run-sync.js';
import { triggerSync } from '../../src/application/trigger-sync.js';
import type { SyncKind } from '../../src/domain/sync-run.js';
import type { SyncRunRepository } from '../../src/ports/catalog.js';
import { G2AError, type G2AProduct } from '../../src/ports/g2a.js';
import { startGround, type Ground } from '../support/ground.js';
import { pendingOutbox } from '../support/outbox.js';

const STALE_AFTER_MS = 60_000;
const MARKUP_PERCENT = 2;
const PRODUCTS = 65;

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());
// A sync counts every game and run there is: each test starts without any (nor taxonomy, carts, accounts or
// jobs) — far cheaper than a ground of its own — and with the clock at real now.
beforeEach(async () => {
  for (const table of [
    'users',
    'guest_sessions',
    'games',
    'platforms',
    'categories',
    'genres',
    'sync_runs',
  ]) {
    await sql`DELETE FROM ${sql.table(table)}`.execute(ground.db);
  }
  await sql`DELETE FROM ${sql.raw(PG_BOSS_SCHEMA)}.job`.execute(ground.db);
  ground.clock.set(new Date());
});

function setup(products = PRODUCTS) {
  const { clock, uow } = ground;
  const logger = new InMemoryLogger();
  const state = new G2ASimulatorState({
    productCount: products,
    seed: 7,
    ratePerMinute: 0,
    now: () => clock.now().getTime(),
  });
  const g2a = new InMemoryG2A(state);
  const lock = new InMemoryLock();
  const progress = new InMemoryProgressBoard();
  const syncRuns = ground.readers.syncRuns;
  const catalog = ground.readers.catalog;
  const deps: RunSyncDeps = {
    uow,
    g2a,
    lock,
    progress,
    clock,
    logger,
    markupPercent: MARKUP_PERCENT,
    staleAfterMs: STALE_AFTER_MS,
  };
  /** Sync runs as a transaction changes them (another worker's side of the story). */
  const runs = <T>(work: (repository: SyncRunRepository) => Promise<T>) =>
    uow.run((scope) => work(scope.syncRuns));
  /** Every outbox message written so far, of any topic (no worker runs, so none is delivered). */
  const messages = () => pendingOutbox(ground.db);
  const invalidations = () => ground.outbox('cache.invalidate');
  const queue = async (kind: SyncKind) => (await triggerSync(deps, { kind, trigger: 'manual' })).runId;
  /** Queues a run and works it as the job's first attempt would. */
  const sync = async (kind: SyncKind) => {
    const runId = await queue(kind);
    const outcome = await runSync(deps, { runId, finalAttempt: false });
    return { runId, outcome, run: (await syncRuns.findById(runId))! };
  };
  return {
    clock,
    logger,
    state,
    g2a,
    lock,
    progress,
    syncRuns,
    catalog,
    deps,
    runs,
    messages,
    invalidations,
    queue,
    sync,
  };
}

function slugOf(product: G2AProduct): string {
  return product.slug!.slice(1);
}

function everyProduct(state: G2ASimulatorState): G2AProduct[] {
  const products: G2AProduct[] = [];
  for (let page = 1; ; page++) {
    const { docs } = state.listProducts({ page, includeOutOfStock: true });
    if (docs.length === 0) return products;
    products.push(...docs);
  }
}

const pagesListed = (g2a: InMemoryG2A) => g2a.listQueries.map((query) => query.page);

describe('runSync', () => {
  it('upserts the whole catalogue at the marked-up price and finishes with every page done', async () => {
    const { sync, catalog, state, g2a, progress } = setup();

    const { runId, outcome, run } = await sync('catalog');

    expect(outcome).toBe('finished');
    expect(run).toMatchObject({
      status: 'finished',
      lastPage: 4,
      progress: { pagesDone: 4, pagesTotal: 4, upserted: PRODUCTS, changed: PRODUCTS },
      error: null,
    });
    expect(run.finishedAt).not.toBeNull();
    expect(pagesListed(g2a)).toEqual([1, 2, 3, 4]);
    expect(g2a.listQueries.every((query) => query.includeOutOfStock === true)).toBe(true);

    const games = (await catalog.list({ page: 1, pageSize: 1000 })).items;
    const byProduct = new Map(games.map((game) => [game.g2aProductId, game]));
    const products = everyProduct(state);
    expect(products).toHaveLength(PRODUCTS);
    expect(byProduct.size).toBe(PRODUCTS);
    for (const product of products) {
      const costCents = Math.round(product.minPrice * 100);
      expect(byProduct.get(product.id)).toMatchObject({
        costCents,
        // 2 % markup, rounded half up to the cent.
        priceCents: Math.floor((costCents * 102 + 50) / 100),
        qty: product.qty,
        delisted: false,
      });
    }
    expect(progress.of(runId).map((update) => [update.status, update.progress.pagesDone])).toEqual([
      ['running', 1],
      ['running', 2],
      ['running', 3],
      ['running', 4],
      ['finished', 4],
    ]);
  });

  it('writes, page by page, invalidations naming the changed games, the catalogue and home, and new taxonomy', async () => {
    const { sync, catalog, invalidations } = setup();

    await sync('catalog');

    const games = (await catalog.list({ page: 1, pageSize: 1000 })).items;
    const rows = await invalidations();
    expect(rows).toHaveLength(4);
    for (const row of rows) expect(row.families).toEqual(['catalog', 'home']);
    const gameKeys = rows.flatMap((row) => row.keys ?? []).filter((key) => key.startsWith('game:'));
    expect(gameKeys.sort()).toEqual(games.map((game) => `game:${game.id}`).sort());
    expect(rows[0]!.keys).toEqual(expect.arrayContaining(['taxonomy:categories', 'taxonomy:platforms']));
    expect(await catalog.taxonomy('platforms')).not.toEqual([]);
    expect(await catalog.taxonomy('categories')).not.toEqual([]);
  });

  it('writes no invalidation when a second catalogue run or a stock run finds nothing changed', async () => {
    const { sync, messages } = setup();
    await sync('catalog');
    const written = await messages();

    const catalog = await sync('catalog');
    const stock = await sync('stock');

    expect(catalog.run).toMatchObject({ status: 'finished', progress: { upserted: PRODUCTS, changed: 0 } });
    expect(stock.run).toMatchObject({ status: 'finished', progress: { upserted: PRODUCTS, changed: 0 } });
    expect(await messages()).toBe(written);
  });

  it('applies a stock change and invalidates the game and the carts that show it', async () => {
    const { sync, catalog, state, messages, invalidations } = setup();
    await sync('catalog');
    const product = everyProduct(state)[10]!;
    const gameId = (await catalog.findIdBySlug(slugOf(product)))!;
    const otherGameId = (await catalog.findIdBySlug(slugOf(everyProduct(state)[11]!)))!;
    const userId = await ground.newUser('alice@example.com');
    const s1 = await ground.newGuestSession();
    const s2 = await ground.newGuestSession();
    await ground.uow.run(async (scope) => {
      await scope.carts.add({ kind: 'user', userId }, gameId, 1, 10);
      await scope.wishlists.add({ kind: 'guest', sessionId: s1 }, gameId);
      await scope.carts.add({ kind: 'guest', sessionId: s2 }, otherGameId, 1, 10);
    });
    const written = await messages();

    state.updateProduct(product.id, { minPrice: 10, qty: 0 });
    const { run } = await sync('stock');

    expect(run).toMatchObject({ status: 'finished', progress: { changed: 1 } });
    expect(await catalog.findById(gameId)).toMatchObject({
      costCents: 1000,
      priceCents: 1020,
      qty: 0,
    });
    expect((await invalidations()).slice(-1)).toEqual([
      {
        keys: [`game:${gameId}`, `user:${userId}:cart`, `session:${s1}:wishlist`],
        families: ['catalog', 'home'],
      },
    ]);
    expect(await messages()).toBe(written + 1);
  });

  it('delists a product G2A no longer lists at the end of a catalogue run, and relists it when it returns', async () => {
    const { sync, catalog, state, logger, invalidations } = setup();
    await sync('catalog');
    const product = everyProduct(state)[30]!;
    const gameId = (await catalog.findIdBySlug(slugOf(product)))!;

    state.removeProduct(product.id);
    const removed = await sync('catalog');

    expect(removed.run).toMatchObject({ status: 'finished', progress: { upserted: PRODUCTS - 1 } });
    expect(await catalog.findById(gameId)).toMatchObject({ delisted: true });
    expect((await catalog.list({ page: 1, pageSize: 1000 })).total).toBe(PRODUCTS - 1);
    expect((await invalidations()).slice(-1)).toEqual([
      { keys: [`game:${gameId}`], families: ['catalog', 'home'] },
    ]);
    expect(logger.at('info').some((entry) => entry.fields.outcome === 'delisted')).toBe(true);

    state.updateProduct(product.id, { listed: true });
    const back = await sync('catalog');

    expect(back.run.progress.changed).toBe(1);
    expect(await catalog.findById(gameId)).toMatchObject({ delisted: false });
    expect((await catalog.list({ page: 1, pageSize: 1000 })).total).toBe(PRODUCTS);
    const lastKeys = (await invalidations()).flatMap((row) => row.keys ?? []);
    expect(lastKeys.filter((key) => key === `game:${gameId}`)).toHaveLength(3);
  });

  it('reads on past a short page and keeps a product that slipped between pages (checked by id)', async () => {
    const { sync, catalog, g2a } = setup();
    const slipped = everyProduct(g2a.state)[25]!;
    await sync('catalog');
    // The listing moves while it is read: page 2 comes back one product short.
    const listProducts = g2a.listProducts.bind(g2a);
    g2a.listProducts = async (query) => {
      const page = await listProducts(query);
      return query.page === 2 && !query.id
        ? { ...page, docs: page.docs.filter((p) => p.id !== slipped.id) }
        : page;
    };

    const { outcome, run } = await sync('catalog');

    expect(outcome).toBe('finished');
    expect(run.progress).toMatchObject({ pagesDone: 4, pagesTotal: 4 });
    const game = (await catalog.list({ page: 1, pageSize: 100 })).items.find(
      (g) => g.g2aProductId === slipped.id,
    );
    expect(game?.delisted).toBe(false);
    expect(g2a.listQueries.some((query) => query.id === slipped.id)).toBe(true);
  });

  it('delists nothing when G2A answers an empty catalogue', async () => {
    const { sync, catalog, state, g2a, logger, messages } = setup();
    await sync('catalog');
    for (const product of everyProduct(state)) state.removeProduct(product.id);
    g2a.listQueries.length = 0;
    const written = await messages();

    const { outcome, run } = await sync('catalog');

    expect(outcome).toBe('finished');
    expect(run.status).toBe('finished');
    expect(run.progress.upserted).toBe(0);
    expect(run.progress.pagesDone).toBe(run.progress.pagesTotal);
    expect(pagesListed(g2a)).toEqual([1]);
    expect((await catalog.list({ page: 1, pageSize: 1000 })).total).toBe(PRODUCTS);
    expect(await messages()).toBe(written);
    expect(logger.at('warn').some((entry) => entry.fields.outcome === 'delist_skipped')).toBe(true);
  });

  it('resumes after the last committed page when a released run is worked again', async () => {
    const { queue, deps, g2a, syncRuns, catalog } = setup();
    const runId = await queue('catalog');
    g2a.failPage(3, new G2AError('unavailable', 'GET /v1/products failed: HTTP 503'));

    await expect(runSync(deps, { runId, finalAttempt: false })).rejects.toMatchObject({
      kind: 'unavailable',
    });
    expect(await syncRuns.findById(runId)).toMatchObject({
      status: 'running',
      lastPage: 2,
      progress: { pagesDone: 2, upserted: 40 },
    });
    g2a.listQueries.length = 0;

    const outcome = await runSync(deps, { runId, finalAttempt: false });

    expect(outcome).toBe('finished');
    expect(pagesListed(g2a)).toEqual([3, 4]);
    expect(await syncRuns.findById(runId)).toMatchObject({
      status: 'finished',
      lastPage: 4,
      progress: { pagesDone: 4, pagesTotal: 4, upserted: PRODUCTS },
    });
    const listed = await catalog.list({ page: 1, pageSize: 1000 });
    expect(listed.total).toBe(PRODUCTS);
  });

  it('stops after the page in hand when the lock is lost, releasing the run for a retry', async () => {
    const { queue, deps, lock, g2a, syncRuns, runs } = setup();
    const runId = await queue('catalog');
    const progress = {
      publish: async (update: { progress: { pagesDone: number } }) => {
        if (update.progress.pagesDone === 1) lock.expire(SYNC_LOCK);
      },
    };

    await expect(runSync({ ...deps, progress }, { runId, finalAttempt: false })).rejects.toThrow(
      `lost ${SYNC_LOCK}`,
    );

    expect(await syncRuns.findById(runId)).toMatchObject({ status: 'running', lastPage: 1 });
    expect(await runs((repository) => repository.heartbeatOf(runId))).toEqual(new Date(0));
    g2a.listQueries.length = 0;
    expect(await runSync(deps, { runId, finalAttempt: false })).toBe('finished');
    expect(pagesListed(g2a)).toEqual([2, 3, 4]);
  });

  it('skips a queued run while the sync lock is held elsewhere', async () => {
    const { queue, deps, lock, g2a, syncRuns, logger } = setup();
    const runId = await queue('stock');
    const release = lock.holdElsewhere(SYNC_LOCK);

    const outcome = await runSync(deps, { runId, finalAttempt: false });
    release();

    expect(outcome).toBe('skipped');
    expect(await syncRuns.findById(runId)).toMatchObject({
      status: 'skipped',
      error: `${SYNC_LOCK} is held by another worker`,
    });
    expect(g2a.listQueries).toEqual([]);
    expect(logger.at('warn')[0]?.fields).toMatchObject({ outcome: 'skipped', runId });
  });

  it('leaves a run it was resuming resumable when the sync lock is held elsewhere, never stranded', async () => {
    const { queue, deps, lock, g2a, syncRuns, runs, clock } = setup();
    const runId = await queue('stock');
    // A run a worker had started and died with: running, its heartbeat recent, its lock lease not yet out.
    await runs((repository) => repository.start(runId, clock.now(), STALE_AFTER_MS));
    const release = lock.holdElsewhere(SYNC_LOCK);

    expect(await runSync(deps, { runId, finalAttempt: false })).toBe('skipped');
    release();

    expect(await syncRuns.findById(runId)).toMatchObject({ status: 'running' });
    expect(await runs((repository) => repository.heartbeatOf(runId))).toEqual(new Date(0));
    expect(g2a.listQueries).toEqual([]);
    // The next attempt (a re-trigger, the scheduler) resumes and finishes it.
    expect(await runSync(deps, { runId, finalAttempt: false })).toBe('finished');
  });

  it('fails the run at once on a permanent G2A error, even before the final attempt', async () => {
    const { queue, deps, g2a, syncRuns, progress, catalog } = setup();
    const runId = await queue('catalog');
    g2a.rejectCredentials = true;

    const outcome = await runSync(deps, { runId, finalAttempt: false });

    expect(outcome).toBe('failed');
    const run = await syncRuns.findById(runId);
    expect(run).toMatchObject({ status: 'failed', error: expect.stringContaining('401') });
    expect(run!.finishedAt).not.toBeNull();
    expect(progress.of(runId).at(-1)).toMatchObject({ status: 'failed' });
    expect((await catalog.list({ page: 1, pageSize: 10 })).total).toBe(0);
  });

  it('releases the run for a retry on a transient error, and rethrows it', async () => {
    const { queue, deps, g2a, syncRuns, runs, clock } = setup();
    const runId = await queue('catalog');
    g2a.state.setFaults({ errorRate: 1 });

    const failure = await runSync(deps, { runId, finalAttempt: false }).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(G2AError);
    expect((failure as G2AError).kind).toBe('unavailable');
    expect(await syncRuns.findById(runId)).toMatchObject({ status: 'running', error: null });
    expect(await runs((repository) => repository.heartbeatOf(runId))).toEqual(new Date(0));
    // Released: the retry takes it over at once, without waiting for it to go stale.
    expect(await runs((repository) => repository.start(runId, clock.now(), STALE_AFTER_MS))).toMatchObject({
      status: 'running',
    });
  });

  it('fails the run on a transient error of the final attempt', async () => {
    const { queue, deps, g2a, syncRuns } = setup();
    const runId = await queue('stock');
    g2a.state.setFaults({ errorRate: 1 });

    const outcome = await runSync(deps, { runId, finalAttempt: true });

    expect(outcome).toBe('failed');
    expect(await syncRuns.findById(runId)).toMatchObject({
      status: 'failed',
      error: expect.stringContaining('Injected failure'),
    });
  });

  // run-sync publishes a failed run with `run.progress`, the progress it had when it started.
  it('publishes a failed run with the pages it had committed', async () => {
    const { queue, deps, g2a, syncRuns, progress } = setup();
    const runId = await queue('catalog');
    g2a.failPage(3, new G2AError('unavailable', 'GET /v1/products failed: HTTP 503'));

    expect(await runSync(deps, { runId, finalAttempt: true })).toBe('failed');

    expect(await syncRuns.findById(runId)).toMatchObject({ status: 'failed', progress: { pagesDone: 2 } });
    expect(progress.of(runId).at(-1)).toMatchObject({ status: 'failed', progress: { pagesDone: 2 } });
  });

  it('ignores a run that has ended, and one that a live worker is running', async () => {
    const { queue, deps, g2a, runs, clock, sync } = setup(5);
    const ended = await sync('catalog');
    const alive = await queue('stock');
    // The live worker reported at the clock's time, which the run's own start compares with.
    await runs((repository) => repository.start(alive, clock.now(), STALE_AFTER_MS));
    g2a.listQueries.length = 0;

    expect(await runSync(deps, { runId: ended.runId, finalAttempt: false })).toBe('ignored');
    expect(await runSync(deps, { runId: alive, finalAttempt: false })).toBe('ignored');
    expect(g2a.listQueries).toEqual([]);
  });

  it('finishes although the progress board is unreachable', async () => {
    const { sync, progress } = setup(5);
    progress.failing = true;

    const { outcome, run } = await sync('catalog');

    expect(outcome).toBe('finished');
    expect(run.progress).toEqual({ pagesDone: 1, pagesTotal: 1, upserted: 5, changed: 5 });
  });
});
