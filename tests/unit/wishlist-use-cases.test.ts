import { describe, expect, it } from 'vitest';
import { addWishlistItem } from '../../src/application/add-wishlist-item.js';
import { getWishlist } from '../../src/application/get-wishlist.js';
import { removeWishlistItem } from '../../src/application/remove-wishlist-item.js';
import { wishlistCacheKey, type CartOwner } from '../../src/domain/cart.js';
import { memoryShopWithOwners } from '../support/memory-shop.js';

async function setup() {
  const { clock, cache, uow, catalog, owners, deps } = await memoryShopWithOwners();
  const readWishlist = (owner: CartOwner, page = 1, pageSize = 20) =>
    getWishlist({ wishlists: uow.repositories.wishlists, cache }, { owner, page, pageSize });
  const gameIds = (owner: CartOwner) => uow.repositories.wishlists.gameIds(owner);
  return { clock, cache, uow, catalog, owners, deps, readWishlist, gameIds };
}

describe.each(['user', 'guest'] as const)('addWishlistItem (%s wishlist)', (kind) => {
  it('wishlists a game once: a second add answers added: false and writes nothing', async () => {
    const { uow, catalog, owners, deps, gameIds } = await setup();
    const owner = owners[kind];
    const gameId = await catalog.add();
    const written = uow.messages.length;

    expect(await addWishlistItem(deps, { owner, gameId })).toEqual({ added: true });
    expect(await addWishlistItem(deps, { owner, gameId })).toEqual({ added: false });

    expect(await gameIds(owner)).toEqual([gameId]);
    expect(uow.payloadsOf('cache.invalidate').slice(written)).toEqual([{ keys: [wishlistCacheKey(owner)] }]);
  });
});

describe('addWishlistItem', () => {
  it('wishlists games that cannot be bought now: sold out, unavailable and delisted', async () => {
    const { catalog, owners, deps, readWishlist } = await setup();
    const ids = [
      await catalog.add({ qty: 0 }),
      await catalog.add({ availableToBuy: false }),
      await catalog.add({ delisted: true }),
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

    await expect(
      addWishlistItem(deps, { owner: owners.user, gameId: '00000000-0000-4000-8000-000000000000' }),
    ).rejects.toMatchObject({ code: 'GAME_NOT_FOUND' });
    expect(await gameIds(owners.user)).toEqual([]);
  });

  it("keeps owners apart: the user's entry is not the guest's", async () => {
    const { catalog, owners, deps, gameIds } = await setup();
    const gameId = await catalog.add();

    await addWishlistItem(deps, { owner: owners.user, gameId });
    expect(await addWishlistItem(deps, { owner: owners.guest, gameId })).toEqual({ added: true });

    expect(await gameIds(owners.user)).toEqual([gameId]);
    expect(await gameIds(owners.guest)).toEqual([gameId]);
  });
});

describe('removeWishlistItem', () => {
  it('takes a game off, idempotently: the second removal writes nothing', async () => {
    const { uow, catalog, owners, deps, gameIds } = await setup();
    const [kept, removed] = [await catalog.add(), await catalog.add()];
    await addWishlistItem(deps, { owner: owners.guest, gameId: kept });
    await addWishlistItem(deps, { owner: owners.guest, gameId: removed });
    const written = uow.messages.length;

    await removeWishlistItem(deps, { owner: owners.guest, gameId: removed });
    await removeWishlistItem(deps, { owner: owners.guest, gameId: removed });

    expect(await gameIds(owners.guest)).toEqual([kept]);
    expect(uow.payloadsOf('cache.invalidate').slice(written)).toEqual([
      { keys: [wishlistCacheKey(owners.guest)] },
    ]);
  });
});

describe('getWishlist', () => {
  it('pages the wishlist newest first, with current prices and ISO dates', async () => {
    const { clock, catalog, owners, deps, readWishlist } = await setup();
    const ids: string[] = [];
    for (const priceCents of [100, 200, 300]) {
      const gameId = await catalog.add({ priceCents });
      ids.push(gameId);
      clock.advance(60_000);
      await addWishlistItem(deps, { owner: owners.user, gameId });
    }

    const first = await readWishlist(owners.user, 1, 2);
    const second = await readWishlist(owners.user, 2, 2);

    expect(first).toMatchObject({ page: 1, pageSize: 2, total: 3 });
    expect(first.items).toEqual([
      expect.objectContaining({
        gameId: ids[2],
        priceCents: 300,
        currency: 'EUR',
        inStock: true,
        addedAt: '2026-03-01T12:03:00.000Z',
      }),
      expect.objectContaining({ gameId: ids[1], addedAt: '2026-03-01T12:02:00.000Z' }),
    ]);
    expect(second).toMatchObject({ page: 2, pageSize: 2, total: 3 });
    expect(second.items.map((item) => item.gameId)).toEqual([ids[0]]);
  });

  it('caches the whole wishlist: later pages are hits, and a change reads it again', async () => {
    const { cache, catalog, owners, deps, readWishlist } = await setup();
    const [first, second] = [await catalog.add(), await catalog.add()];
    await addWishlistItem(deps, { owner: owners.guest, gameId: first });

    expect((await readWishlist(owners.guest)).total).toBe(1);
    expect((await readWishlist(owners.guest, 2, 1)).items).toEqual([]);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });

    await addWishlistItem(deps, { owner: owners.guest, gameId: second });
    expect(cache.peek({ key: wishlistCacheKey(owners.guest) })).toBeUndefined();
    expect((await readWishlist(owners.guest)).total).toBe(2);

    await removeWishlistItem(deps, { owner: owners.guest, gameId: first });
    expect(cache.peek({ key: wishlistCacheKey(owners.guest) })).toBeUndefined();
    expect((await readWishlist(owners.guest)).items.map((item) => item.gameId)).toEqual([second]);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 3 });
  });
});
