import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addWishlistItem } from '../../src/application/add-wishlist-item.js';
import { getWishlist } from '../../src/application/get-wishlist.js';
import { removeWishlistItem } from '../../src/application/remove-wishlist-item.js';
import { wishlistCacheKey, type CartOwner } from '../../src/domain/cart.js';
import type { WishlistReader } from '../../src/ports/carts.js';
import { expectDomainError } from '../support/errors.js';
import { insertGame, type TestGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';

const UNKNOWN_GAME = '00000000-0000-4000-8000-000000000000';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

/**
 * Fresh owners on the shared ground, with the wishlist reader counted: every load of `getWishlist` is a cache
 * miss, every other read a hit.
 */
async function setup() {
  const owners = await ground.newOwners();
  const deps = { uow: ground.uow };
  const reads = { loads: 0, total: 0 };
  const countedWishlists: WishlistReader = {
    entries: (owner) => {
      reads.loads += 1;
      return ground.readers.wishlists.entries(owner);
    },
  };
  const readWishlist = async (owner: CartOwner, page = 1, pageSize = 20) => {
    reads.total += 1;
    return getWishlist({ wishlists: countedWishlists, cache: ground.cache }, { owner, page, pageSize });
  };
  const cacheStats = () => ({ hits: reads.total - reads.loads, misses: reads.loads });
  const isCached = async (owner: CartOwner) =>
    (await ground.redis!.hexists(wishlistCacheKey(owner), 'd')) === 1;
  /** The owner's wishlisted game ids, oldest entry first. */
  const gameIds = async (owner: CartOwner) =>
    (await ground.readers.wishlists.entries(owner)).map((entry) => entry.gameId).reverse();
  /** When the owner wishlisted the game, as PostgreSQL stamped it. */
  const addedAt = async (owner: CartOwner, gameId: string) => {
    const query = ground.db.selectFrom('wishlist_items').select('created_at').where('game_id', '=', gameId);
    const row = await (
      owner.kind === 'user'
        ? query.where('user_id', '=', owner.userId)
        : query.where('session_id', '=', owner.sessionId)
    ).executeTakeFirstOrThrow();
    return row.created_at;
  };
  const game = (values?: TestGame) => insertGame(ground.db, values);
  return { owners, deps, readWishlist, cacheStats, isCached, gameIds, addedAt, game };
}

describe.each(['user', 'guest'] as const)('addWishlistItem (%s wishlist)', (kind) => {
  it('wishlists a game once: a second add answers added: false and writes nothing', async () => {
    const { owners, deps, gameIds, game } = await setup();
    const owner = owners[kind];
    const gameId = await game();
    await ground.clearOutbox();

    expect(await addWishlistItem(deps, { owner, gameId })).toEqual({ added: true });
    expect(await addWishlistItem(deps, { owner, gameId })).toEqual({ added: false });

    expect(await gameIds(owner)).toEqual([gameId]);
    expect(await ground.outbox('cache.invalidate')).toEqual([{ keys: [wishlistCacheKey(owner)] }]);
  });
});

describe('addWishlistItem', () => {
  it('wishlists games that cannot be bought now: sold out, unavailable and delisted', async () => {
    const { owners, deps, readWishlist, game } = await setup();
    const ids = [
      await game({ qty: 0 }),
      await game({ availableToBuy: false }),
      await game({ delisted: true }),
    ];

    for (const gameId of ids) {
      expect(await addWishlistItem(deps, { owner: owners.user, gameId })).toEqual({ added: true });
    }

    const { items } = await readWishlist(owners.user);
    expect(items.map((item) => [item.gameId, item.inStock, item.delisted]).sort()).toEqual(
      [
        [ids[0], false, false],
        [ids[1], false, false],
        [ids[2], false, true],
      ].sort(),
    );
  });

  it('answers GAME_NOT_FOUND for an unknown game', async () => {
    const { owners, deps, gameIds } = await setup();

    await expectDomainError(
      addWishlistItem(deps, { owner: owners.user, gameId: UNKNOWN_GAME }),
      'GAME_NOT_FOUND',
    );
    expect(await gameIds(owners.user)).toEqual([]);
  });

  it("keeps owners apart: the user's entry is not the guest's", async () => {
    const { owners, deps, gameIds, game } = await setup();
    const gameId = await game();

    await addWishlistItem(deps, { owner: owners.user, gameId });
    expect(await addWishlistItem(deps, { owner: owners.guest, gameId })).toEqual({ added: true });

    expect(await gameIds(owners.user)).toEqual([gameId]);
    expect(await gameIds(owners.guest)).toEqual([gameId]);
  });
});

describe('removeWishlistItem', () => {
  it('takes a game off, idempotently: the second removal writes nothing', async () => {
    const { owners, deps, gameIds, game } = await setup();
    const [kept, removed] = [await game(), await game()];
    await addWishlistItem(deps, { owner: owners.guest, gameId: kept });
    await addWishlistItem(deps, { owner: owners.guest, gameId: removed });
    await ground.clearOutbox();

    await removeWishlistItem(deps, { owner: owners.guest, gameId: removed });
    await removeWishlistItem(deps, { owner: owners.guest, gameId: removed });

    expect(await gameIds(owners.guest)).toEqual([kept]);
    expect(await ground.outbox('cache.invalidate')).toEqual([{ keys: [wishlistCacheKey(owners.guest)] }]);
  });
});

describe('getWishlist', () => {
  it('pages the wishlist newest first, with current prices and ISO dates', async () => {
    const { owners, deps, readWishlist, addedAt, game } = await setup();
    const ids: string[] = [];
    // One transaction each: every entry gets its own `now()`, in this order.
    for (const priceCents of [100, 200, 300]) {
      const gameId = await game({ priceCents });
      ids.push(gameId);
      await addWishlistItem(deps, { owner: owners.user, gameId });
    }
    const stamps = await Promise.all(ids.map((gameId) => addedAt(owners.user, gameId)));

    const first = await readWishlist(owners.user, 1, 2);
    const second = await readWishlist(owners.user, 2, 2);

    expect(first).toMatchObject({ page: 1, pageSize: 2, total: 3 });
    expect(first.items).toEqual([
      expect.objectContaining({
        gameId: ids[2],
        priceCents: 300,
        currency: 'EUR',
        inStock: true,
        addedAt: stamps[2]!.toISOString(),
      }),
      expect.objectContaining({ gameId: ids[1], addedAt: stamps[1]!.toISOString() }),
    ]);
    expect(first.items[0]!.addedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(second).toMatchObject({ page: 2, pageSize: 2, total: 3 });
    expect(second.items.map((item) => item.gameId)).toEqual([ids[0]]);
  });

  it('caches the whole wishlist: later pages are hits, and a change reads it again', async () => {
    const { owners, deps, readWishlist, cacheStats, isCached, game } = await setup();
    const [first, second] = [await game(), await game()];
    await addWishlistItem(deps, { owner: owners.guest, gameId: first });

    expect((await readWishlist(owners.guest)).total).toBe(1);
    expect((await readWishlist(owners.guest, 2, 1)).items).toEqual([]);
    expect(cacheStats()).toEqual({ hits: 1, misses: 1 });

    await addWishlistItem(deps, { owner: owners.guest, gameId: second });
    expect(await isCached(owners.guest)).toBe(false);
    expect((await readWishlist(owners.guest)).total).toBe(2);

    await removeWishlistItem(deps, { owner: owners.guest, gameId: first });
    expect(await isCached(owners.guest)).toBe(false);
    expect((await readWishlist(owners.guest)).items.map((item) => item.gameId)).toEqual([second]);
    expect(cacheStats()).toEqual({ hits: 1, misses: 3 });
  });
});
