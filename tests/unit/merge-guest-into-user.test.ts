import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryCache } from '../../src/adapters/memory/in-memory-cache.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { addCartItem } from '../../src/application/add-cart-item.js';
import { addWishlistItem } from '../../src/application/add-wishlist-item.js';
import { getCart } from '../../src/application/get-cart.js';
import { mergeGuestIntoUser, type MergeReport } from '../../src/application/merge-guest-into-user.js';
import { cartCacheKey, wishlistCacheKey, type CartOwner } from '../../src/domain/cart.js';
import { MemoryCatalog } from '../support/memory-catalog.js';

const SESSION_EXPIRES_AT = new Date('2026-03-31T12:00:00.000Z');

async function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const logger = new InMemoryLogger();
  const cache = new InMemoryCache({ now: () => clock.now().getTime() });
  const uow = new InMemoryUnitOfWork({ clock, cache });
  const catalog = new MemoryCatalog(uow);
  const created = await uow.repositories.users.insertIfEmailFree({
    email: 'alice@example.com',
    passwordHash: 'hash',
    nickname: null,
    firstName: null,
    lastName: null,
  });
  const userId = created!.id;
  const sessionId = 'guest-1';
  await uow.repositories.guestSessions.insert({ id: sessionId, expiresAt: SESSION_EXPIRES_AT });
  const user: CartOwner = { kind: 'user', userId };
  const guest: CartOwner = { kind: 'guest', sessionId };
  const merge = () => mergeGuestIntoUser({ uow, clock, logger }, { userId, sessionId });
  /** Adds cart lines in this order, one second apart, so the guest's lines have a known order. */
  const fillCart = async (owner: CartOwner, lines: [gameId: string, quantity: number][]) => {
    for (const [gameId, quantity] of lines) {
      clock.advance(1000);
      await addCartItem({ uow }, { owner, gameId, quantity });
    }
  };
  const wishlist = async (owner: CartOwner, gameIds: string[]) => {
    for (const gameId of gameIds) {
      clock.advance(1000);
      await addWishlistItem({ uow }, { owner, gameId });
    }
  };
  const cartOf = async (owner: CartOwner) =>
    Object.fromEntries(
      (await uow.repositories.carts.lines(owner)).map((line) => [line.gameId, line.quantity]),
    );
  const wishlistOf = async (owner: CartOwner) => (await uow.repositories.wishlists.gameIds(owner)).sort();
  return {
    clock,
    logger,
    cache,
    uow,
    catalog,
    userId,
    sessionId,
    user,
    guest,
    merge,
    fillCart,
    wishlist,
    cartOf,
    wishlistOf,
  };
}

const nothingMerged: MergeReport = {
  cart: { merged: 0, skipped: [], capped: [] },
  wishlist: { merged: 0, skipped: [] },
};

describe('mergeGuestIntoUser', () => {
  it('moves guest lines of games the user has no line of, and empties the guest cart', async () => {
    const { uow, catalog, user, guest, merge, fillCart, cartOf } = await setup();
    const [a, b, c] = [await catalog.add(), await catalog.add(), await catalog.add()];
    await fillCart(guest, [
      [a, 2],
      [b, 1],
    ]);
    await fillCart(user, [[c, 1]]);
    const written = uow.messages.length;

    const report = await merge();

    expect(report).toEqual({
      cart: { merged: 2, skipped: [], capped: [] },
      wishlist: { merged: 0, skipped: [] },
    });
    expect(await cartOf(user)).toEqual({ [a]: 2, [b]: 1, [c]: 1 });
    expect(await cartOf(guest)).toEqual({});
    expect(uow.payloadsOf('cache.invalidate').slice(written)).toEqual([
      { keys: [cartCacheKey(user), cartCacheKey(guest)] },
    ]);
  });

  it('sums the quantities of a game in both carts', async () => {
    const { catalog, user, guest, merge, fillCart, cartOf } = await setup();
    const gameId = await catalog.add();
    await fillCart(user, [[gameId, 3]]);
    await fillCart(guest, [[gameId, 4]]);

    const report = await merge();

    expect(report.cart).toEqual({ merged: 1, skipped: [], capped: [] });
    expect(await cartOf(user)).toEqual({ [gameId]: 7 });
    expect(await cartOf(guest)).toEqual({});
  });

  it('caps a sum over 10 at 10, reports it, and still takes the line off the guest', async () => {
    const { catalog, user, guest, merge, fillCart, cartOf } = await setup();
    const [capped, summed] = [await catalog.add(), await catalog.add()];
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
    const { catalog, user, guest, merge, fillCart, cartOf } = await setup();
    const [soldOut, unavailable, delisted, available] = [
      await catalog.add(),
      await catalog.add(),
      await catalog.add(),
      await catalog.add(),
    ];
    await fillCart(guest, [
      [soldOut, 2],
      [unavailable, 1],
      [delisted, 3],
      [available, 1],
    ]);
    await fillCart(user, [[soldOut, 1]]);
    await catalog.restock(soldOut, { qty: 0 });
    await catalog.restock(unavailable, { availableToBuy: false });
    await catalog.delist(delisted);

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
    const { catalog, user, guest, merge, fillCart, cartOf } = await setup();
    const gameId = await catalog.add();
    await fillCart(guest, [[gameId, 2]]);
    await catalog.restock(gameId, { qty: 0 });
    expect((await merge()).cart.skipped).toEqual([{ gameId, reason: 'out_of_stock' }]);

    await catalog.restock(gameId, { qty: 4 });
    const report = await merge();

    expect(report.cart).toEqual({ merged: 1, skipped: [], capped: [] });
    expect(await cartOf(user)).toEqual({ [gameId]: 2 });
    expect(await cartOf(guest)).toEqual({});
  });

  it('moves wishlisted games, sold out and delisted ones too, and leaves the ones the user has on the guest', async () => {
    const { uow, catalog, user, guest, merge, wishlist, wishlistOf } = await setup();
    const [fresh, shared, soldOut, delisted] = [
      await catalog.add(),
      await catalog.add(),
      await catalog.add({ qty: 0 }),
      await catalog.add({ delisted: true }),
    ];
    await wishlist(guest, [fresh, shared, soldOut, delisted]);
    await wishlist(user, [shared]);
    const written = uow.messages.length;

    const report = await merge();

    expect(report).toEqual({
      cart: { merged: 0, skipped: [], capped: [] },
      wishlist: { merged: 3, skipped: [{ gameId: shared, reason: 'already_in_wishlist' }] },
    });
    expect(await wishlistOf(user)).toEqual([fresh, shared, soldOut, delisted].sort());
    expect(await wishlistOf(guest)).toEqual([shared]);
    expect(uow.payloadsOf('cache.invalidate').slice(written)).toEqual([
      { keys: [wishlistCacheKey(user), wishlistCacheKey(guest)] },
    ]);
  });

  it("deletes the user's cached cart and wishlist at once when they change", async () => {
    const { cache, uow, catalog, user, guest, merge, fillCart, wishlist } = await setup();
    const gameId = await catalog.add();
    await fillCart(guest, [[gameId, 1]]);
    await wishlist(guest, [gameId]);
    expect((await getCart({ carts: uow.repositories.carts, cache }, user)).items).toEqual([]);

    await merge();

    expect(cache.peek({ key: cartCacheKey(user) })).toBeUndefined();
    expect((await getCart({ carts: uow.repositories.carts, cache }, user)).items).toMatchObject([
      { gameId, quantity: 1 },
    ]);
  });

  it('writes nothing and logs nothing_to_merge for an empty guest session', async () => {
    const { uow, logger, merge } = await setup();
    const written = uow.messages.length;

    expect(await merge()).toEqual(nothingMerged);

    expect(uow.messages).toHaveLength(written);
    expect(logger.at('info')).toMatchObject([
      { fields: { operation: 'cart.merge', outcome: 'nothing_to_merge' }, message: 'guest cart merged' },
    ]);
  });

  it('moves each line once when two sign-ins merge the same guest at the same time', async () => {
    const { catalog, user, guest, merge, fillCart, wishlist, cartOf, wishlistOf } = await setup();
    const gameId = await catalog.add();
    await fillCart(guest, [[gameId, 3]]);
    await wishlist(guest, [gameId]);

    const reports = await Promise.all([merge(), merge()]);

    expect(reports.map((report) => report.cart.merged + report.wishlist.merged).sort()).toEqual([0, 2]);
    expect(await cartOf(user)).toEqual({ [gameId]: 3 });
    expect(await wishlistOf(user)).toEqual([gameId]);
    expect(await cartOf(guest)).toEqual({});
  });

  it('reports MERGE_FAILED and moves nothing when a write of the merge fails', async () => {
    const { uow, logger, catalog, user, guest, merge, fillCart, wishlist, cartOf, wishlistOf } =
      await setup();
    const [a, b] = [await catalog.add(), await catalog.add()];
    await fillCart(guest, [
      [a, 2],
      [b, 1],
    ]);
    await fillCart(user, [[a, 1]]);
    await wishlist(guest, [b]);
    const written = uow.messages.length;
    const rollbacks = uow.rollbacks;
    uow.failNextOutboxAdd();

    const report = await merge();

    expect(report).toEqual({
      ...nothingMerged,
      error: { code: 'MERGE_FAILED', message: expect.stringContaining('merge at the next sign-in') },
    });
    expect(uow.rollbacks).toBe(rollbacks + 1);
    expect(await cartOf(user)).toEqual({ [a]: 1 });
    expect(await cartOf(guest)).toEqual({ [a]: 2, [b]: 1 });
    expect(await wishlistOf(user)).toEqual([]);
    expect(await wishlistOf(guest)).toEqual([b]);
    expect(uow.messages).toHaveLength(written);
    expect(logger.at('error')).toMatchObject([{ fields: { operation: 'cart.merge', outcome: 'failed' } }]);
  });

  it.each([
    ['has expired', SESSION_EXPIRES_AT.toISOString()],
    ['expired a moment ago', new Date(SESSION_EXPIRES_AT.getTime() + 1).toISOString()],
  ])('reports SESSION_REQUIRED and moves nothing when the guest session %s', async (_, at) => {
    const { clock, uow, logger, catalog, user, guest, merge, fillCart, cartOf } = await setup();
    const gameId = await catalog.add();
    await fillCart(guest, [[gameId, 2]]);
    const written = uow.messages.length;
    clock.set(at);

    const report = await merge();

    expect(report).toEqual({
      ...nothingMerged,
      error: { code: 'SESSION_REQUIRED', message: expect.any(String) },
    });
    expect(await cartOf(user)).toEqual({});
    expect(await cartOf(guest)).toEqual({ [gameId]: 2 });
    expect(uow.messages).toHaveLength(written);
    expect(logger.at('warn')).toMatchObject([{ fields: { outcome: 'rejected', code: 'SESSION_REQUIRED' } }]);
  });

  it('reports SESSION_REQUIRED for a session that was never issued, and USER_NOT_FOUND for an unknown user', async () => {
    const { uow, clock, logger, userId, sessionId } = await setup();

    const unknownSession = await mergeGuestIntoUser({ uow, clock, logger }, { userId, sessionId: 'forged' });
    const unknownUser = await mergeGuestIntoUser(
      { uow, clock, logger },
      { userId: '00000000-0000-4000-8000-000000000000', sessionId },
    );

    expect(unknownSession.error?.code).toBe('SESSION_REQUIRED');
    expect(unknownUser.error?.code).toBe('USER_NOT_FOUND');
  });
});
