import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { PG_BOSS_SCHEMA } from '../../src/adapters/jobs/outbox-worker.js';
import { addCartItem } from '../../src/application/add-cart-item.js';
import { addWishlistItem } from '../../src/application/add-wishlist-item.js';
import { getCart } from '../../src/application/get-cart.js';
import { mergeGuestIntoUser, type MergeReport } from '../../src/application/merge-guest-into-user.js';
import { cartCacheKey, wishlistCacheKey, type CartOwner } from '../../src/domain/cart.js';
import type { Clock } from '../../src/ports/clock.js';
import type { UnitOfWork } from '../../src/ports/unit-of-work.js';
import { insertGame, updateGame, type TestGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';
import { queueOf } from '../support/outbox.js';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

/** A fresh user and guest session on the shared ground, a logger of the test's own, the unit of work counted. */
async function setup() {
  const { user, guest } = (await ground.newOwners()) as {
    user: Extract<CartOwner, { kind: 'user' }>;
    guest: Extract<CartOwner, { kind: 'guest' }>;
  };
  const { userId } = user;
  const { sessionId } = guest;
  const logger = new InMemoryLogger();
  const transactions = { commits: 0, rollbacks: 0 };
  const uow: UnitOfWork = {
    run: async (work) => {
      try {
        const result = await ground.uow.run(work);
        transactions.commits += 1;
        return result;
      } catch (error) {
        transactions.rollbacks += 1;
        throw error;
      }
    },
  };
  const merge = (clock: Clock = ground.clock) =>
    mergeGuestIntoUser({ uow, clock, logger }, { userId, sessionId });
  /** Adds cart lines in this order, one transaction (one `now()`) each, so the lines have a known order. */
  const fillCart = async (owner: CartOwner, lines: [gameId: string, quantity: number][]) => {
    for (const [gameId, quantity] of lines)
      await addCartItem({ uow: ground.uow }, { owner, gameId, quantity });
  };
  const wishlist = async (owner: CartOwner, gameIds: string[]) => {
    for (const gameId of gameIds) await addWishlistItem({ uow: ground.uow }, { owner, gameId });
  };
  const cartOf = async (owner: CartOwner) =>
    Object.fromEntries((await ground.readers.carts.lines(owner)).map((line) => [line.gameId, line.quantity]));
  const wishlistOf = async (owner: CartOwner) =>
    (await ground.readers.wishlists.entries(owner)).map((entry) => entry.gameId).sort();
  /** Every outbox message written since the last `ground.clearOutbox()`. */
  const messages = async () => [
    ...(await ground.outbox('cache.invalidate')),
    ...(await ground.outbox('email.send')),
  ];
  const game = (values?: TestGame) => insertGame(ground.db, values);
  return {
    logger,
    transactions,
    uow,
    userId,
    sessionId,
    user,
    guest,
    merge,
    fillCart,
    wishlist,
    cartOf,
    wishlistOf,
    messages,
    game,
  };
}

const nothingMerged: MergeReport = {
  cart: { merged: 0, skipped: [], capped: [] },
  wishlist: { merged: 0, skipped: [] },
};

describe('mergeGuestIntoUser', () => {
  it('moves guest lines of games the user has no line of, and empties the guest cart', async () => {
    const { user, guest, merge, fillCart, cartOf, game } = await setup();
    const [a, b, c] = [await game(), await game(), await game()];
    await fillCart(guest, [
      [a, 2],
      [b, 1],
    ]);
    await fillCart(user, [[c, 1]]);
    await ground.clearOutbox();

    const report = await merge();

    expect(report).toEqual({
      cart: { merged: 2, skipped: [], capped: [] },
      wishlist: { merged: 0, skipped: [] },
    });
    expect(await cartOf(user)).toEqual({ [a]: 2, [b]: 1, [c]: 1 });
    expect(await cartOf(guest)).toEqual({});
    expect(await ground.outbox('cache.invalidate')).toEqual([
      { keys: [cartCacheKey(user), cartCacheKey(guest)] },
    ]);
  });

  it('sums the quantities of a game in both carts', async () => {
    const { user, guest, merge, fillCart, cartOf, game } = await setup();
    const gameId = await game();
    await fillCart(user, [[gameId, 3]]);
    await fillCart(guest, [[gameId, 4]]);

    const report = await merge();

    expect(report.cart).toEqual({ merged: 1, skipped: [], capped: [] });
    expect(await cartOf(user)).toEqual({ [gameId]: 7 });
    expect(await cartOf(guest)).toEqual({});
  });

  it('caps a sum over 10 at 10, reports it, and still takes the line off the guest', async () => {
    const { user, guest, merge, fillCart, cartOf, game } = await setup();
    const [capped, summed] = [await game(), await game()];
    await fillCart(user, [
      [capped, 8],
      [summed, 5],
    ]);
    await fillCart(guest, [
      [capped, 5],
      [summed, 5],
    ]);

    const report = await merge();

    expect(report.cart).toEqual({
      merged: 2,
      skipped: [],
      capped: [{ gameId: capped, requested: 13, quantity: 10 }],
    });
    expect(await cartOf(user)).toEqual({ [capped]: 10, [summed]: 10 });
    expect(await cartOf(guest)).toEqual({});
  });

  it('skips and reports guest lines of games that are sold out, unavailable or delisted; they stay on the guest', async () => {
    const { user, guest, merge, fillCart, cartOf, game } = await setup();
    const [soldOut, unavailable, delisted, available] = [
      await game(),
      await game(),
      await game(),
      await game(),
    ];
    await fillCart(guest, [
      [soldOut, 2],
      [unavailable, 1],
      [delisted, 3],
      [available, 1],
    ]);
    await fillCart(user, [[soldOut, 1]]);
    await updateGame(ground.db, soldOut, { qty: 0 });
    await updateGame(ground.db, unavailable, { availableToBuy: false });
    await updateGame(ground.db, delisted, { delisted: true });

    const report = await merge();

    expect(report.cart).toEqual({
      merged: 1,
      skipped: [
        { gameId: soldOut, reason: 'out_of_stock' },
        { gameId: unavailable, reason: 'out_of_stock' },
        { gameId: delisted, reason: 'delisted' },
      ],
      capped: [],
    });
    expect(await cartOf(user)).toEqual({ [soldOut]: 1, [available]: 1 });
    expect(await cartOf(guest)).toEqual({ [soldOut]: 2, [unavailable]: 1, [delisted]: 3 });
  });

  it('merges a skipped line at a later sign-in, once the game is back in stock', async () => {
    const { user, guest, merge, fillCart, cartOf, game } = await setup();
    const gameId = await game();
    await fillCart(guest, [[gameId, 2]]);
    await updateGame(ground.db, gameId, { qty: 0 });
    expect((await merge()).cart.skipped).toEqual([{ gameId, reason: 'out_of_stock' }]);

    await updateGame(ground.db, gameId, { qty: 4 });
    const report = await merge();

    expect(report.cart).toEqual({ merged: 1, skipped: [], capped: [] });
    expect(await cartOf(user)).toEqual({ [gameId]: 2 });
    expect(await cartOf(guest)).toEqual({});
  });

  it('moves wishlisted games, sold out and delisted ones too, and leaves the ones the user has on the guest', async () => {
    const { user, guest, merge, wishlist, wishlistOf, game } = await setup();
    const [fresh, shared, soldOut, delisted] = [
      await game(),
      await game(),
      await game({ qty: 0 }),
      await game({ delisted: true }),
    ];
    await wishlist(guest, [fresh, shared, soldOut, delisted]);
    await wishlist(user, [shared]);
    await ground.clearOutbox();

    const report = await merge();

    expect(report).toEqual({
      cart: { merged: 0, skipped: [], capped: [] },
      wishlist: { merged: 3, skipped: [{ gameId: shared, reason: 'already_in_wishlist' }] },
    });
    expect(await wishlistOf(user)).toEqual([fresh, shared, soldOut, delisted].sort());
    expect(await wishlistOf(guest)).toEqual([shared]);
    expect(await ground.outbox('cache.invalidate')).toEqual([
      { keys: [wishlistCacheKey(user), wishlistCacheKey(guest)] },
    ]);
  });

  it("deletes the user's cached cart and wishlist at once when they change", async () => {
    const { user, guest, merge, fillCart, wishlist, game } = await setup();
    const readCart = () => getCart({ carts: ground.readers.carts, cache: ground.cache }, user);
    const gameId = await game();
    await fillCart(guest, [[gameId, 1]]);
    await wishlist(guest, [gameId]);
    expect((await readCart()).items).toEqual([]);
    expect(await ground.redis!.hexists(cartCacheKey(user), 'd')).toBe(1);

    await merge();

    expect(await ground.redis!.hexists(cartCacheKey(user), 'd')).toBe(0);
    expect((await readCart()).items).toMatchObject([{ gameId, quantity: 1 }]);
  });

  it('writes nothing and logs nothing_to_merge for an empty guest session', async () => {
    const { logger, merge, messages } = await setup();
    await ground.clearOutbox();

    expect(await merge()).toEqual(nothingMerged);

    expect(await messages()).toEqual([]);
    expect(logger.at('info')).toMatchObject([
      { fields: { operation: 'cart.merge', outcome: 'nothing_to_merge' }, message: 'guest cart merged' },
    ]);
  });

  it('moves each line once when two sign-ins merge the same guest at the same time', async () => {
    const { user, guest, merge, fillCart, wishlist, cartOf, wishlistOf, game } = await setup();
    const gameId = await game();
    await fillCart(guest, [[gameId, 3]]);
    await wishlist(guest, [gameId]);

    const reports = await Promise.all([merge(), merge()]);

    expect(reports.map((report) => report.cart.merged + report.wishlist.merged).sort()).toEqual([0, 2]);
    expect(await cartOf(user)).toEqual({ [gameId]: 3 });
    expect(await wishlistOf(user)).toEqual([gameId]);
    expect(await cartOf(guest)).toEqual({});
  });

  it('reports MERGE_FAILED and moves nothing when a write of the merge fails', async () => {
    const {
      logger,
      transactions,
      userId,
      user,
      guest,
      merge,
      fillCart,
      wishlist,
      cartOf,
      wishlistOf,
      messages,
      game,
    } = await setup();
    const [a, b] = [await game(), await game()];
    await fillCart(guest, [
      [a, 2],
      [b, 1],
    ]);
    await fillCart(user, [[a, 1]]);
    await wishlist(guest, [b]);
    await ground.clearOutbox();
    const rollbacks = transactions.rollbacks;
    // The merge's last write, its outbox message (the invalidation of this user's cart), fails: every cart and
    // wishlist write before it must roll back with it.
    await sql`
      CREATE FUNCTION refuse_merge_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'outbox write refused by the test'; END $$`.execute(ground.db);
    await sql`
      CREATE TRIGGER refuse_merge_outbox BEFORE INSERT ON ${sql.table(`${PG_BOSS_SCHEMA}.job`)} FOR EACH ROW
      WHEN (NEW.name = ${sql.lit(queueOf('cache.invalidate'))}
        AND NEW.data::text LIKE ${sql.lit(`%${cartCacheKey(user)}%`)})
      EXECUTE FUNCTION refuse_merge_outbox()`.execute(ground.db);
    let report: MergeReport;
    try {
      report = await merge();
    } finally {
      await sql`DROP TRIGGER refuse_merge_outbox ON ${sql.table(`${PG_BOSS_SCHEMA}.job`)}`.execute(ground.db);
      await sql`DROP FUNCTION refuse_merge_outbox()`.execute(ground.db);
    }

    expect(report).toEqual({
      ...nothingMerged,
      error: { code: 'MERGE_FAILED', message: expect.stringContaining('merge at the next sign-in') },
    });
    expect(transactions.rollbacks).toBe(rollbacks + 1);
    expect(await cartOf(user)).toEqual({ [a]: 1 });
    expect(await cartOf(guest)).toEqual({ [a]: 2, [b]: 1 });
    expect(await wishlistOf(user)).toEqual([]);
    expect(await wishlistOf(guest)).toEqual([b]);
    expect(await messages()).toEqual([]);
    expect(logger.at('error')).toMatchObject([
      { fields: { operation: 'cart.merge', outcome: 'failed', userId } },
    ]);
  });

  it.each([
    ['has expired', 0],
    ['expired a moment ago', 1],
  ])('reports SESSION_REQUIRED and moves nothing when the guest session %s', async (_, msAfterExpiry) => {
    const { logger, sessionId, user, guest, merge, fillCart, cartOf, messages, game } = await setup();
    const gameId = await game();
    await fillCart(guest, [[gameId, 2]]);
    await ground.clearOutbox();
    const { expires_at: expiresAt } = await ground.db
      .selectFrom('guest_sessions')
      .select('expires_at')
      .where('id', '=', sessionId)
      .executeTakeFirstOrThrow();

    const report = await merge(new FixedClock(new Date(expiresAt.getTime() + msAfterExpiry)));

    expect(report).toEqual({
      ...nothingMerged,
      error: { code: 'SESSION_REQUIRED', message: expect.any(String) },
    });
    expect(await cartOf(user)).toEqual({});
    expect(await cartOf(guest)).toEqual({ [gameId]: 2 });
    expect(await messages()).toEqual([]);
    expect(logger.at('warn')).toMatchObject([{ fields: { outcome: 'rejected', code: 'SESSION_REQUIRED' } }]);
  });

  it('reports SESSION_REQUIRED for a session that was never issued, and USER_NOT_FOUND for an unknown user', async () => {
    const { uow, logger, userId, sessionId } = await setup();
    const deps = { uow, clock: ground.clock, logger };

    const unknownSession = await mergeGuestIntoUser(deps, { userId, sessionId: 'forged' });
    const unknownUser = await mergeGuestIntoUser(deps, {
      userId: '00000000-0000-4000-8000-000000000000',
      sessionId,
    });

    expect(unknownSession.error?.code).toBe('SESSION_REQUIRED');
    expect(unknownUser.error?.code).toBe('USER_NOT_FOUND');
  });
});
