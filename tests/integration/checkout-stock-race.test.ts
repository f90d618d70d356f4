import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidateCatalogChanges } from '../../src/application/catalog-invalidation.js';
import { placeOrder } from '../../src/application/place-order.js';
import { topUpWallet } from '../../src/application/top-up-wallet.js';
import { DomainError } from '../../src/domain/errors.js';
import type { CatalogEntry, StockEntry } from '../../src/ports/catalog.js';
import type { TransactionScope, UnitOfWork } from '../../src/ports/unit-of-work.js';
import { insertGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';
import { balanceOf, ledgerViolations } from '../support/ledger-invariants.js';
import { waitFor } from '../support/wait-for.js';

// A checkout racing a stock and price check, on the real unit of work and PostgreSQL: the check is the
// transaction a stock sync page commits (`applyStock` and its invalidations in one `uow.run`), the checkout the
// real `placeOrder`. Each checkout must see every game it buys either as it was before the check or as it is
// after — the price it charges and the stock it checks from the same version, across all its games.

let ground: Ground;
let userId: string;
/** A second customer, for checkouts that must not queue behind the first one's wallet lock. */
let otherUserId: string;
let expectedBalance = 0;

beforeAll(async () => {
  ground = await startGround();
  userId = await ground.newUser();
  await topUpWallet(
    { uow: ground.uow, logger: ground.logger },
    { userId, amountCents: 1_000_000, reference: `race-${randomUUID()}` },
  );
  expectedBalance = 1_000_000;
  otherUserId = await ground.newUser();
  await topUpWallet(
    { uow: ground.uow, logger: ground.logger },
    { userId: otherUserId, amountCents: 1_000_000, reference: `race-${randomUUID()}` },
  );
});
afterAll(() => ground?.dispose());

/** One state of a game as G2A reports it (and as the shop stores it). */
interface Version {
  priceCents: number;
  costCents: number;
  qty: number;
  availableToBuy: boolean;
}

const sellable = (v: Version) => v.qty >= 1 && v.availableToBuy;

interface RaceGame {
  id: string;
  g2aProductId: string;
  before: Version;
  after: Version;
}

let nextPrice = 1000;
const catalogEntries = new Map<string, CatalogEntry>();

/** A game stored at one version, and the version the stock check will bring. */
async function raceGame(before: { inStock: boolean }, after: { inStock: boolean }): Promise<RaceGame> {
  nextPrice += 10;
  const id = await insertGame(ground.db, {
    priceCents: nextPrice,
    qty: before.inStock ? 5 : 0,
    availableToBuy: true,
  });
  const row = await ground.db.selectFrom('games').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  // The game as a catalogue page would list it unchanged (the test games have no platform or categories).
  catalogEntries.set(id, {
    g2aProductId: row.g2a_product_id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    platform: null,
    region: row.region,
    thumbnail: row.thumbnail,
    coverImage: row.cover_image,
    releaseDate: row.release_date,
    costCents: row.cost_cents,
    priceCents: row.price_cents,
    retailPriceCents: row.retail_price_cents,
    qty: row.qty,
    availableToBuy: row.available_to_buy,
    g2aUpdatedAt: row.g2a_updated_at,
    categories: [],
  });
  const stored: Version = {
    priceCents: row.price_cents,
    costCents: row.cost_cents,
    qty: row.qty,
    availableToBuy: row.available_to_buy,
  };
  return {
    id,
    g2aProductId: row.g2a_product_id,
    before: stored,
    // Another price and cost; out of stock one way or the other (no quantity, or not available to buy).
    after: {
      priceCents: stored.priceCents + 7,
      costCents: stored.costCents + 5,
      qty: after.inStock ? 3 : nextPrice % 20 === 0 ? 0 : 2,
      availableToBuy: after.inStock || nextPrice % 20 === 0,
    },
  };
}

const entriesOf = (games: RaceGame[]): StockEntry[] =>
  games.map((g) => ({ g2aProductId: g.g2aProductId, ...g.after }));

/** The stock page's transaction; `hold` runs inside it after the write, before the commit. */
function stockCheck(entries: StockEntry[], hold?: () => Promise<void>) {
  return ground.uow.run(async (scope) => {
    const changes = await scope.catalog.applyStock(entries);
    await invalidateCatalogChanges(scope, changes);
    if (hold) await hold();
    return changes;
  });
}

/**
 * A unit of work whose checkout transaction calls `hooks.locking` just before it locks the wallet and the
 * games, and `hooks.gamesLocked` once it locked and read them (the claim and release transactions touch
 * neither).
 */
function hookedUnitOfWork(hooks: {
  locking?: () => Promise<void>;
  gamesLocked?: () => Promise<void>;
}): UnitOfWork {
  return {
    run: (work) =>
      ground.uow.run((scope) => {
        const orders = Object.create(scope.orders) as TransactionScope['orders'];
        orders.lockForCheckout = async (userId, what) => {
          await hooks.locking?.();
          const locked = await scope.orders.lockForCheckout(userId, what);
          await hooks.gamesLocked?.();
          return locked;
        };
        return work({ ...scope, orders });
      }),
  };
}

type Outcome = { placed: string } | { refused: DomainError } | { failed: Error };

async function checkout(
  games: RaceGame[],
  uow: UnitOfWork = ground.uow,
  buyer: string = userId,
): Promise<Outcome> {
  try {
    const placed = await placeOrder(
      { uow, clock: ground.clock, logger: ground.logger },
      {
        userId: buyer,
        idempotencyKey: randomUUID(),
        items: games.map((g) => ({ gameId: g.id, quantity: 1 })),
      },
    );
    return { placed: (JSON.parse(placed.body) as { id: string }).id };
  } catch (error) {
    return error instanceof DomainError ? { refused: error } : { failed: error as Error };
  }
}

/**
 * Which version the checkout saw — `before` or `after` — or, when it fits neither, what it mixed. A placed
 * order must charge every game the price and record the cost of one version in which all of them were
 * sellable; a refusal must name exactly the games that version could not sell.
 */
async function versionSeen(outcome: Outcome, games: RaceGame[], buyer: string = userId): Promise<string> {
  if ('failed' in outcome) return `failed: ${outcome.failed.message}`;
  const versions = ['before', 'after'] as const;
  if ('placed' in outcome) {
    const lines = await ground.db
      .selectFrom('order_lines')
      .select(['game_id', 'unit_price_cents', 'unit_cost_cents'])
      .where('order_id', '=', outcome.placed)
      .execute();
    const seen = lines.map((line) => `${line.unit_price_cents}/${line.unit_cost_cents}`);
    for (const v of versions) {
      const fits =
        lines.length === games.length &&
        games.every((g) => {
          const line = lines.find((l) => l.game_id === g.id);
          return (
            sellable(g[v]) &&
            line?.unit_price_cents === g[v].priceCents &&
            line.unit_cost_cents === g[v].costCents
          );
        });
      if (fits) {
        if (buyer === userId) expectedBalance -= games.reduce((sum, g) => sum + g[v].priceCents, 0);
        return v;
      }
    }
    return `placed at price/cost ${seen.join(', ')}`;
  }
  if (outcome.refused.code !== 'OUT_OF_STOCK') return `refused: ${outcome.refused.code}`;
  const reported = ((outcome.refused.details?.games ?? []) as { gameId: string }[])
    .map((g) => g.gameId)
    .sort();
  for (const v of versions) {
    const unsellable = games
      .filter((g) => !sellable(g[v]))
      .map((g) => g.id)
      .sort();
    if (unsellable.length > 0 && JSON.stringify(unsellable) === JSON.stringify(reported)) return v;
  }
  return `refused OUT_OF_STOCK for ${reported.length} of ${games.length} games`;
}

/** Waits until a statement of this database matching `pattern` waits for a row lock. */
async function waitsOnLock(pattern: string, what: string): Promise<void> {
  await waitFor(async () => {
    const row = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE ${pattern}`.execute(
      ground.db,
    );
    return row.rows[0]!.n > 0;
  }, what);
}

const CHECKOUT_LOCK = '%for share of g%';
const STOCK_LOCK = '%FOR NO KEY UPDATE OF g%';

async function expectStored(games: RaceGame[]): Promise<void> {
  const rows = await ground.db
    .selectFrom('games')
    .select(['id', 'price_cents', 'cost_cents', 'qty', 'available_to_buy'])
    .where(
      'id',
      'in',
      games.map((g) => g.id),
    )
    .execute();
  for (const g of games) {
    const row = rows.find((r) => r.id === g.id)!;
    expect({
      priceCents: row.price_cents,
      costCents: row.cost_cents,
      qty: row.qty,
      availableToBuy: row.available_to_buy,
    }).toEqual(g.after);
  }
}

/**
 * Two games in stock that a stock page lists against the checkout's lock order: `high` (the larger id) is
 * stored first and listed first, so the page reads and locks it first whichever way it joins.
 */
async function pairAgainstIdOrder(): Promise<{ low: RaceGame; high: RaceGame }> {
  for (;;) {
    const first = await raceGame({ inStock: true }, { inStock: true });
    const second = await raceGame({ inStock: true }, { inStock: true });
    if (first.id > second.id) return { low: second, high: first };
  }
}

/** Whether another transaction holds a lock on the game's row (probed without waiting). */
async function lockedByAnother(gameId: string): Promise<boolean> {
  try {
    await ground.db.transaction().execute(async (tx) => {
      await sql`SELECT id FROM games WHERE id = ${gameId} FOR UPDATE NOWAIT`.execute(tx);
    });
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') return true;
    throw error;
  }
}

/** The sync pages that write games: what each writes for the pair, and how its waiting statement reads. */
const PAGES: Record<
  string,
  { write(low: RaceGame, high: RaceGame): Promise<unknown>; lockPattern: string; keepsHigh?: boolean }
> = {
  // A stock page that lists `high` first.
  'stock page': { write: (low, high) => stockCheck(entriesOf([high, low])), lockPattern: STOCK_LOCK },
  // A catalogue page where `high` is unchanged (its last_seen_run_id is written first) and `low` repriced.
  'catalogue page': {
    write: (low, high) =>
      ground.uow.run(async (scope) => {
        const entry = (g: RaceGame, v: Version) => ({ ...catalogEntries.get(g.id)!, ...v });
        const changes = await scope.catalog.upsertEntries(randomUUID(), [
          entry(low, low.after),
          entry(high, high.before),
        ]);
        await invalidateCatalogChanges(scope, changes);
        return changes;
      }),
    lockPattern: '%from "games"%for no key update%',
    keepsHigh: true,
  },
};

/** The shapes of a race: one game going out of stock, one coming back, one repriced, two games at once. */
const SCENARIOS: Record<string, () => Promise<RaceGame[]>> = {
  'a game going out of stock': async () => [await raceGame({ inStock: true }, { inStock: false })],
  'a game coming back in stock': async () => [await raceGame({ inStock: false }, { inStock: true })],
  'a repriced game': async () => [await raceGame({ inStock: true }, { inStock: true })],
  'two games, one repriced and one going out of stock': async () => [
    await raceGame({ inStock: true }, { inStock: true }),
    await raceGame({ inStock: true }, { inStock: false }),
  ],
};

/** The stock page lists the games against the checkout's lock order (game id), as a G2A page may. */
const againstIdOrder = (games: RaceGame[]) => [...games].sort((a, b) => (a.id < b.id ? 1 : -1));

describe('a checkout racing a stock and price check', () => {
  it.each(Object.keys(SCENARIOS))(
    '%s: a checkout that waits for a running check sees the new version',
    async (scenario) => {
      const games = await SCENARIOS[scenario]!();
      let pending: Promise<Outcome> | undefined;
      await stockCheck(entriesOf(againstIdOrder(games)), async () => {
        pending = checkout(games);
        await waitsOnLock(CHECKOUT_LOCK, 'the checkout waits for the stock check');
      });
      expect(await versionSeen(await pending!, games)).toBe('after');
      await expectStored(games);
    },
  );

  it.each(Object.keys(SCENARIOS))(
    '%s: a check that waits for a running checkout leaves it the old version',
    async (scenario) => {
      const games = await SCENARIOS[scenario]!();
      let check: Promise<unknown> | undefined;
      const outcome = await checkout(
        games,
        hookedUnitOfWork({
          gamesLocked: async () => {
            check = stockCheck(entriesOf(againstIdOrder(games)));
            await waitsOnLock(STOCK_LOCK, 'the stock check waits for the checkout');
          },
        }),
      );
      expect(await versionSeen(outcome, games)).toBe('before');
      await check;
      await expectStored(games);
    },
  );

  describe.each(Object.keys(PAGES))(
    'a two-game checkout beside a %s waiting for one of its games, while another checkout holds it',
    (pageKind) => {
      // Every writer of games locks them in game-id order, as a checkout does: the page waits for `low` (which
      // a running one-game checkout share-locks) before it touches `high`, so a second customer's checkout of
      // both finds `high` free and goes through — no lock cycle between the page and the checkouts.
      it('the page holds nothing the second checkout needs; both checkouts and the page go through', async () => {
        const page = PAGES[pageKind]!;
        const { low, high } = await pairAgainstIdOrder();
        if (page.keepsHigh) high.after = high.before;
        const games = [low, high];
        let written: Promise<string> | undefined;
        let second: Outcome | undefined;
        let pageHoldsHigh = true;
        const first = await checkout(
          [low],
          hookedUnitOfWork({
            gamesLocked: async () => {
              written = page.write(low, high).then(
                () => 'committed',
                (error: Error) => error.message,
              );
              await waitsOnLock(page.lockPattern, 'the page waits for the first checkout');
              pageHoldsHigh = await lockedByAnother(high.id);
              second = await checkout(games, ground.uow, otherUserId);
            },
          }),
        );
        const race = {
          first: await versionSeen(first, [low]),
          second: await versionSeen(second!, games, otherUserId),
          page: await written!,
        };
        expect(pageHoldsHigh).toBe(false);
        expect(race).toEqual({ first: 'before', second: 'before', page: 'committed' });
        await expectStored(games);
      });
    },
  );

  it('free-running rounds: every checkout saw one whole version, and the ledger adds up', async () => {
    const seen: Record<string, number> = {};
    const scenarios = Object.keys(SCENARIOS);
    const settle = (check: Promise<unknown>) =>
      check.then(
        () => 'committed',
        (error: Error) => error.message,
      );
    for (let round = 0; round < 120; round += 1) {
      const scenario = scenarios[round % scenarios.length]!;
      const games = await SCENARIOS[scenario]!();
      const entries = entriesOf(againstIdOrder(games));
      let outcome: Outcome;
      let check: string;
      if (round % 2) {
        // Both at once (the checkout's key claim comes first, so the check mostly wins).
        [outcome, check] = await Promise.all([checkout(games), settle(stockCheck(entries))]);
      } else {
        // The check starts as the checkout transaction locks the wallet and games: the two race for the rows.
        let started: Promise<string> | undefined;
        outcome = await checkout(
          games,
          hookedUnitOfWork({
            locking: async () => {
              started = settle(stockCheck(entries));
            },
          }),
        );
        check = await started!;
      }
      const version = await versionSeen(outcome, games);
      const label = `${scenario}: ${version}; stock check ${check}`;
      seen[label] = (seen[label] ?? 0) + 1;
    }
    const mixed = Object.keys(seen).filter(
      (label) => !/: (before|after); stock check committed$/.test(label),
    );
    expect(mixed, JSON.stringify(seen, null, 2)).toEqual([]);
    expect(await balanceOf(ground.db, userId)).toBe(expectedBalance);
    expect(await ledgerViolations(ground.db)).toEqual([]);
  });
});
