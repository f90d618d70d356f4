import { describe, expect, it } from 'vitest';
import { addCartItem } from '../../src/application/add-cart-item.js';
import { clearCart } from '../../src/application/clear-cart.js';
import { getCart } from '../../src/application/get-cart.js';
import { removeCartItem } from '../../src/application/remove-cart-item.js';
import { setCartItemQuantity } from '../../src/application/set-cart-item-quantity.js';
import { cartCacheKey, type CartOwner } from '../../src/domain/cart.js';
import type { MemoryCatalog } from '../support/memory-catalog.js';
import { memoryShopWithOwners } from '../support/memory-shop.js';

async function setup() {
  const { clock, cache, uow, catalog, owners, deps } = await memoryShopWithOwners();
  const readCart = (owner: CartOwner) => getCart({ carts: uow.repositories.carts, cache }, owner);
  const quantities = async (owner: CartOwner) =>
    Object.fromEntries(
      (await uow.repositories.carts.lines(owner)).map((line) => [line.gameId, line.quantity]),
    );
  return { clock, cache, uow, catalog, owners, deps, readCart, quantities };
}

describe.each(['user', 'guest'] as const)('addCartItem (%s cart)', (kind) => {
  it('adds a new line at the current price and invalidates the cached cart', async () => {
    const { uow, catalog, owners, deps } = await setup();
    const owner = owners[kind];
    const gameId = await catalog.add({ name: 'Alpha Strike', priceCents: 1530 });
    const written = uow.messages.length;

    const { cart, created } = await addCartItem(deps, { owner, gameId, quantity: 2 });

    expect(created).toBe(true);
    expect(cart).toEqual({
      items: [
        {
          gameId,
          name: 'Alpha Strike',
          slug: expect.stringMatching(/^alpha-strike-/),
          thumbnail: null,
          quantity: 2,
          unitPriceCents: 1530,
          inStock: true,
          delisted: false,
          lineTotalCents: 3060,
        },
      ],
      totalCents: 3060,
      currency: 'EUR',
    });
    expect(uow.payloadsOf('cache.invalidate').slice(written)).toEqual([{ keys: [cartCacheKey(owner)] }]);
  });

  it('raises an existing line instead of adding a second one', async () => {
    const { catalog, owners, deps, quantities } = await setup();
    const owner = owners[kind];
    const gameId = await catalog.add();
    await addCartItem(deps, { owner, gameId, quantity: 3 });

    const { cart, created } = await addCartItem(deps, { owner, gameId, quantity: 4 });

    expect(created).toBe(false);
    expect(cart.items.map((item) => [item.gameId, item.quantity])).toEqual([[gameId, 7]]);
    expect(await quantities(owner)).toEqual({ [gameId]: 7 });
  });

  it('fills a line up to exactly 10, and refuses one more unit with QUANTITY_LIMIT, changing nothing', async () => {
    const { uow, catalog, owners, deps, quantities } = await setup();
    const owner = owners[kind];
    const gameId = await catalog.add();
    await addCartItem(deps, { owner, gameId, quantity: 7 });
    await addCartItem(deps, { owner, gameId, quantity: 3 });
    const written = uow.messages.length;
    const rollbacks = uow.rollbacks;

    await expect(addCartItem(deps, { owner, gameId, quantity: 1 })).rejects.toMatchObject({
      code: 'QUANTITY_LIMIT',
      details: { field: 'quantity' },
    });

    expect(await quantities(owner)).toEqual({ [gameId]: 10 });
    expect(uow.messages).toHaveLength(written);
    expect(uow.rollbacks).toBe(rollbacks + 1);
  });
});

describe('addCartItem', () => {
  it('refuses a sum over 10 with QUANTITY_LIMIT and leaves the line as it was', async () => {
    const { uow, catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add();
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 6 });
    const written = uow.messages.length;

    await expect(addCartItem(deps, { owner: owners.user, gameId, quantity: 5 })).rejects.toMatchObject({
      code: 'QUANTITY_LIMIT',
    });

    expect(await quantities(owners.user)).toEqual({ [gameId]: 6 });
    expect(uow.messages).toHaveLength(written);
  });

  it('refuses more than 10 at once with QUANTITY_LIMIT before opening a transaction', async () => {
    const { uow, catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add();
    const commits = uow.commits;

    await expect(addCartItem(deps, { owner: owners.user, gameId, quantity: 11 })).rejects.toMatchObject({
      code: 'QUANTITY_LIMIT',
    });

    expect(await quantities(owners.user)).toEqual({});
    expect({ commits: uow.commits, rollbacks: uow.rollbacks }).toEqual({ commits, rollbacks: 0 });
  });

  it.each([0, -1, 1.5])('refuses a quantity of %s as VALIDATION_FAILED', async (quantity) => {
    const { catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add();

    await expect(addCartItem(deps, { owner: owners.user, gameId, quantity })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: { field: 'quantity' },
    });
    expect(await quantities(owners.user)).toEqual({});
  });

  it('answers GAME_NOT_FOUND for an unknown game', async () => {
    const { uow, owners, deps, quantities } = await setup();

    await expect(
      addCartItem(deps, { owner: owners.user, gameId: '00000000-0000-4000-8000-000000000000', quantity: 1 }),
    ).rejects.toMatchObject({ code: 'GAME_NOT_FOUND' });
    expect(await quantities(owners.user)).toEqual({});
    expect(uow.payloadsOf('cache.invalidate').flatMap((row) => row.keys ?? [])).not.toContain(
      cartCacheKey(owners.user),
    );
  });

  it.each([
    ['no units left', { qty: 0 }],
    ['G2A forbids buying it', { availableToBuy: false }],
    ['the shop delisted it', { delisted: true }],
  ])('answers OUT_OF_STOCK when %s, changing nothing', async (_, game) => {
    const { uow, catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add(game);
    const written = uow.messages.length;

    await expect(addCartItem(deps, { owner: owners.guest, gameId, quantity: 1 })).rejects.toMatchObject({
      code: 'OUT_OF_STOCK',
    });

    expect(await quantities(owners.guest)).toEqual({});
    expect(uow.messages).toHaveLength(written);
  });

  it('keeps a line per owner: the same game in a user cart and a guest cart are separate lines', async () => {
    const { catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add();

    await addCartItem(deps, { owner: owners.user, gameId, quantity: 2 });
    await addCartItem(deps, { owner: owners.guest, gameId, quantity: 9 });

    expect(await quantities(owners.user)).toEqual({ [gameId]: 2 });
    expect(await quantities(owners.guest)).toEqual({ [gameId]: 9 });
  });

  it('lists lines oldest first', async () => {
    const { clock, catalog, owners, deps } = await setup();
    const ids = [await catalog.add(), await catalog.add(), await catalog.add()];

    for (const gameId of [ids[2]!, ids[0]!, ids[1]!]) {
      clock.advance(1000);
      await addCartItem(deps, { owner: owners.user, gameId, quantity: 1 });
    }

    const { cart } = await addCartItem(deps, { owner: owners.user, gameId: ids[2]!, quantity: 1 });
    expect(cart.items.map((item) => item.gameId)).toEqual([ids[2], ids[0], ids[1]]);
  });

  it('never passes 10 when adds to one line race: the last one that would is refused', async () => {
    const { catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add();

    const results = await Promise.allSettled(
      [4, 4, 4].map((quantity) => addCartItem(deps, { owner: owners.user, gameId, quantity })),
    );

    expect(results.map((result) => result.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect(results.find((result) => result.status === 'rejected')).toMatchObject({
      reason: { code: 'QUANTITY_LIMIT' },
    });
    expect(await quantities(owners.user)).toEqual({ [gameId]: 8 });
  });
});

describe('setCartItemQuantity', () => {
  it('raises and lowers a line, invalidating the cached cart each time', async () => {
    const { uow, catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add({ priceCents: 500 });
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 2 });
    const written = uow.messages.length;

    const raised = await setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 10 });
    expect(raised).toMatchObject({
      items: [{ gameId, quantity: 10, lineTotalCents: 5000 }],
      totalCents: 5000,
    });
    const lowered = await setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 1 });
    expect(lowered).toMatchObject({ items: [{ gameId, quantity: 1 }], totalCents: 500 });

    expect(await quantities(owners.user)).toEqual({ [gameId]: 1 });
    expect(uow.payloadsOf('cache.invalidate').slice(written)).toEqual([
      { keys: [cartCacheKey(owners.user)] },
      { keys: [cartCacheKey(owners.user)] },
    ]);
  });

  it('writes no invalidation when the quantity stays the same', async () => {
    const { uow, catalog, owners, deps } = await setup();
    const gameId = await catalog.add();
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 3 });
    const written = uow.messages.length;

    await setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 3 });

    expect(uow.messages).toHaveLength(written);
  });

  it('answers CART_ITEM_NOT_FOUND for a game not in the cart, and GAME_NOT_FOUND for an unknown game', async () => {
    const { catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add();
    await addCartItem(deps, { owner: owners.guest, gameId, quantity: 1 });

    await expect(
      setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 2 }),
    ).rejects.toMatchObject({ code: 'CART_ITEM_NOT_FOUND' });
    await expect(
      setCartItemQuantity(deps, {
        owner: owners.user,
        gameId: '00000000-0000-4000-8000-000000000000',
        quantity: 2,
      }),
    ).rejects.toMatchObject({ code: 'GAME_NOT_FOUND' });
    expect(await quantities(owners.user)).toEqual({});
    expect(await quantities(owners.guest)).toEqual({ [gameId]: 1 });
  });

  it('refuses a quantity over 10 with QUANTITY_LIMIT and one below 1 as VALIDATION_FAILED', async () => {
    const { catalog, owners, deps, quantities } = await setup();
    const gameId = await catalog.add();
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 4 });

    await expect(
      setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 11 }),
    ).rejects.toMatchObject({ code: 'QUANTITY_LIMIT' });
    await expect(
      setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 0 }),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(await quantities(owners.user)).toEqual({ [gameId]: 4 });
  });

  it.each([
    ['sold out', (catalog: MemoryCatalog, gameId: string) => catalog.restock(gameId, { qty: 0 })],
    ['delisted', (catalog: MemoryCatalog, gameId: string) => catalog.delist(gameId)],
  ])(
    'lets the quantity of a %s game go down, but not up (OUT_OF_STOCK, unchanged)',
    async (_, makeUnavailable) => {
      const { uow, catalog, owners, deps, quantities } = await setup();
      const gameId = await catalog.add();
      await addCartItem(deps, { owner: owners.user, gameId, quantity: 5 });
      await makeUnavailable(catalog, gameId);

      const lowered = await setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 3 });
      expect(lowered.items).toMatchObject([{ gameId, quantity: 3, inStock: false }]);
      const written = uow.messages.length;

      await expect(
        setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 4 }),
      ).rejects.toMatchObject({ code: 'OUT_OF_STOCK' });
      expect(await quantities(owners.user)).toEqual({ [gameId]: 3 });
      expect(uow.messages).toHaveLength(written);
    },
  );
});

describe('removeCartItem and clearCart', () => {
  it('removes one line and invalidates; removing it again changes and writes nothing', async () => {
    const { uow, catalog, owners, deps, quantities } = await setup();
    const [kept, removed] = [await catalog.add(), await catalog.add()];
    await addCartItem(deps, { owner: owners.user, gameId: kept, quantity: 1 });
    await addCartItem(deps, { owner: owners.user, gameId: removed, quantity: 2 });
    const written = uow.messages.length;

    await removeCartItem(deps, { owner: owners.user, gameId: removed });
    await removeCartItem(deps, { owner: owners.user, gameId: removed });

    expect(await quantities(owners.user)).toEqual({ [kept]: 1 });
    expect(uow.payloadsOf('cache.invalidate').slice(written)).toEqual([
      { keys: [cartCacheKey(owners.user)] },
    ]);
  });

  it("clears every line of one owner and none of another's; clearing an empty cart writes nothing", async () => {
    const { uow, catalog, owners, deps, quantities } = await setup();
    const [first, second] = [await catalog.add(), await catalog.add()];
    await addCartItem(deps, { owner: owners.guest, gameId: first, quantity: 1 });
    await addCartItem(deps, { owner: owners.guest, gameId: second, quantity: 2 });
    await addCartItem(deps, { owner: owners.user, gameId: first, quantity: 3 });
    const written = uow.messages.length;

    await clearCart(deps, owners.guest);
    await clearCart(deps, owners.guest);

    expect(await quantities(owners.guest)).toEqual({});
    expect(await quantities(owners.user)).toEqual({ [first]: 3 });
    expect(uow.payloadsOf('cache.invalidate').slice(written)).toEqual([
      { keys: [cartCacheKey(owners.guest)] },
    ]);
  });
});

describe('getCart', () => {
  it('answers an empty cart for an owner without lines', async () => {
    const { owners, readCart } = await setup();

    expect(await readCart(owners.guest)).toEqual({ items: [], totalCents: 0, currency: 'EUR' });
  });

  it('serves the second read from the cache, and reads again after any change to the cart', async () => {
    const { cache, catalog, owners, deps, readCart } = await setup();
    const [first, second] = [await catalog.add({ priceCents: 1000 }), await catalog.add({ priceCents: 250 })];
    await addCartItem(deps, { owner: owners.user, gameId: first, quantity: 1 });

    const loaded = await readCart(owners.user);
    expect(cache.misses).toBe(1);
    expect(await readCart(owners.user)).toEqual(loaded);
    expect(cache.hits).toBe(1);
    expect(cache.peek({ key: cartCacheKey(owners.user) })).toEqual(loaded);

    const changes = [
      () => addCartItem(deps, { owner: owners.user, gameId: second, quantity: 2 }),
      () => setCartItemQuantity(deps, { owner: owners.user, gameId: first, quantity: 3 }),
      () => removeCartItem(deps, { owner: owners.user, gameId: second }),
      () => clearCart(deps, owners.user),
    ];
    const totals: number[] = [];
    for (const change of changes) {
      await change();
      expect(cache.peek({ key: cartCacheKey(owners.user) })).toBeUndefined();
      totals.push((await readCart(owners.user)).totalCents);
    }

    expect(totals).toEqual([1500, 3500, 3000, 0]);
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 5 });
  });

  it("does not invalidate another owner's cached cart", async () => {
    const { cache, catalog, owners, deps, readCart } = await setup();
    const gameId = await catalog.add();
    await addCartItem(deps, { owner: owners.guest, gameId, quantity: 1 });
    const guestCart = await readCart(owners.guest);

    await addCartItem(deps, { owner: owners.user, gameId, quantity: 1 });

    expect(cache.peek({ key: cartCacheKey(owners.guest) })).toEqual(guestCart);
  });
});
