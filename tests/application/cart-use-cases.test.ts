import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCartItem } from '../../src/application/add-cart-item.js';
import { clearCart } from '../../src/application/clear-cart.js';
import { getCart } from '../../src/application/get-cart.js';
import { removeCartItem } from '../../src/application/remove-cart-item.js';
import { setCartItemQuantity } from '../../src/application/set-cart-item-quantity.js';
import { cartCacheKey, type Cart, type CartOwner } from '../../src/domain/cart.js';
import type { CartReader } from '../../src/ports/carts.js';
import type { UnitOfWork } from '../../src/ports/unit-of-work.js';
import { expectDomainError } from '../support/errors.js';
import { insertGame, updateGame, type TestGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';

const UNKNOWN_GAME = '00000000-0000-4000-8000-000000000000';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

/**
 * Fresh owners on the shared ground, the shop's unit of work counted (a transaction that commits, one that
 * rolls back), and the cart reader counted: every load of `getCart` is a cache miss, every other read a hit.
 */
async function setup() {
  const owners = await ground.newOwners();
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
  const reads = { loads: 0, total: 0 };
  const countedCarts: CartReader = {
    lines: (owner) => {
      reads.loads += 1;
      return ground.readers.carts.lines(owner);
    },
  };
  const readCart = async (owner: CartOwner) => {
    reads.total += 1;
    return getCart({ carts: countedCarts, cache: ground.cache }, owner);
  };
  const cacheStats = () => ({ hits: reads.total - reads.loads, misses: reads.loads });
  /** The cart cached for the owner, or undefined when there is none. */
  const cachedCart = async (owner: CartOwner): Promise<Cart | undefined> => {
    const json = await ground.redis!.hget(cartCacheKey(owner), 'd');
    return json === null ? undefined : (JSON.parse(json) as Cart);
  };
  const quantities = async (owner: CartOwner) =>
    Object.fromEntries((await ground.readers.carts.lines(owner)).map((line) => [line.gameId, line.quantity]));
  /** Every outbox message written since the last `ground.clearOutbox()`. */
  const messages = async () => [
    ...(await ground.outbox('cache.invalidate')),
    ...(await ground.outbox('email.send')),
  ];
  const game = (values?: TestGame) => insertGame(ground.db, values);
  return {
    owners,
    transactions,
    deps: { uow },
    readCart,
    cacheStats,
    cachedCart,
    quantities,
    messages,
    game,
  };
}

describe.each(['user', 'guest'] as const)('addCartItem (%s cart)', (kind) => {
  it('adds a new line at the current price and invalidates the cached cart', async () => {
    const { owners, deps, game } = await setup();
    const owner = owners[kind];
    const gameId = await game({ name: 'Alpha Strike', priceCents: 1530 });
    await ground.clearOutbox();

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
    expect(await ground.outbox('cache.invalidate')).toEqual([{ keys: [cartCacheKey(owner)] }]);
  });

  it('raises an existing line instead of adding a second one', async () => {
    const { owners, deps, quantities, game } = await setup();
    const owner = owners[kind];
    const gameId = await game();
    await addCartItem(deps, { owner, gameId, quantity: 3 });

    const { cart, created } = await addCartItem(deps, { owner, gameId, quantity: 4 });

    expect(created).toBe(false);
    expect(cart.items.map((item) => [item.gameId, item.quantity])).toEqual([[gameId, 7]]);
    expect(await quantities(owner)).toEqual({ [gameId]: 7 });
  });

  it('fills a line up to exactly 10, and refuses one more unit with QUANTITY_LIMIT, changing nothing', async () => {
    const { owners, transactions, deps, quantities, messages, game } = await setup();
    const owner = owners[kind];
    const gameId = await game();
    await addCartItem(deps, { owner, gameId, quantity: 7 });
    await addCartItem(deps, { owner, gameId, quantity: 3 });
    await ground.clearOutbox();
    const rollbacks = transactions.rollbacks;

    await expectDomainError(addCartItem(deps, { owner, gameId, quantity: 1 }), 'QUANTITY_LIMIT', {
      field: 'quantity',
    });

    expect(await quantities(owner)).toEqual({ [gameId]: 10 });
    expect(await messages()).toEqual([]);
    expect(transactions.rollbacks).toBe(rollbacks + 1);
  });
});

describe('addCartItem', () => {
  it('refuses a sum over 10 with QUANTITY_LIMIT and leaves the line as it was', async () => {
    const { owners, deps, quantities, messages, game } = await setup();
    const gameId = await game();
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 6 });
    await ground.clearOutbox();

    await expectDomainError(addCartItem(deps, { owner: owners.user, gameId, quantity: 5 }), 'QUANTITY_LIMIT');

    expect(await quantities(owners.user)).toEqual({ [gameId]: 6 });
    expect(await messages()).toEqual([]);
  });

  it('refuses more than 10 at once with QUANTITY_LIMIT before opening a transaction', async () => {
    const { owners, transactions, deps, quantities, game } = await setup();
    const gameId = await game();
    const commits = transactions.commits;

    await expectDomainError(
      addCartItem(deps, { owner: owners.user, gameId, quantity: 11 }),
      'QUANTITY_LIMIT',
    );

    expect(await quantities(owners.user)).toEqual({});
    expect(transactions).toEqual({ commits, rollbacks: 0 });
  });

  it.each([0, -1, 1.5])('refuses a quantity of %s as VALIDATION_FAILED', async (quantity) => {
    const { owners, deps, quantities, game } = await setup();
    const gameId = await game();

    await expectDomainError(
      addCartItem(deps, { owner: owners.user, gameId, quantity }),
      'VALIDATION_FAILED',
      {
        field: 'quantity',
      },
    );
    expect(await quantities(owners.user)).toEqual({});
  });

  it('answers GAME_NOT_FOUND for an unknown game', async () => {
    const { owners, deps, quantities } = await setup();

    await expectDomainError(
      addCartItem(deps, { owner: owners.user, gameId: UNKNOWN_GAME, quantity: 1 }),
      'GAME_NOT_FOUND',
    );
    expect(await quantities(owners.user)).toEqual({});
    expect((await ground.outbox('cache.invalidate')).flatMap((row) => row.keys ?? [])).not.toContain(
      cartCacheKey(owners.user),
    );
  });

  it.each([
    ['no units left', { qty: 0 }],
    ['G2A forbids buying it', { availableToBuy: false }],
    ['the shop delisted it', { delisted: true }],
  ])('answers OUT_OF_STOCK when %s, changing nothing', async (_, values) => {
    const { owners, deps, quantities, messages, game } = await setup();
    const gameId = await game(values);
    await ground.clearOutbox();

    await expectDomainError(addCartItem(deps, { owner: owners.guest, gameId, quantity: 1 }), 'OUT_OF_STOCK');

    expect(await quantities(owners.guest)).toEqual({});
    expect(await messages()).toEqual([]);
  });

  it('keeps a line per owner: the same game in a user cart and a guest cart are separate lines', async () => {
    const { owners, deps, quantities, game } = await setup();
    const gameId = await game();

    await addCartItem(deps, { owner: owners.user, gameId, quantity: 2 });
    await addCartItem(deps, { owner: owners.guest, gameId, quantity: 9 });

    expect(await quantities(owners.user)).toEqual({ [gameId]: 2 });
    expect(await quantities(owners.guest)).toEqual({ [gameId]: 9 });
  });

  it('lists lines oldest first', async () => {
    const { owners, deps, game } = await setup();
    const ids = [await game(), await game(), await game()];

    // One transaction each: every line gets its own `now()`, in this order.
    for (const gameId of [ids[2]!, ids[0]!, ids[1]!]) {
      await addCartItem(deps, { owner: owners.user, gameId, quantity: 1 });
    }

    const { cart } = await addCartItem(deps, { owner: owners.user, gameId: ids[2]!, quantity: 1 });
    expect(cart.items.map((item) => item.gameId)).toEqual([ids[2], ids[0], ids[1]]);
  });

  it('never passes 10 when adds to one line race: the last one that would is refused', async () => {
    const { owners, deps, quantities, game } = await setup();
    const gameId = await game();

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
    const { owners, deps, quantities, game } = await setup();
    const gameId = await game({ priceCents: 500 });
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 2 });
    await ground.clearOutbox();

    const raised = await setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 10 });
    expect(raised).toMatchObject({
      items: [{ gameId, quantity: 10, lineTotalCents: 5000 }],
      totalCents: 5000,
    });
    const lowered = await setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 1 });
    expect(lowered).toMatchObject({ items: [{ gameId, quantity: 1 }], totalCents: 500 });

    expect(await quantities(owners.user)).toEqual({ [gameId]: 1 });
    expect(await ground.outbox('cache.invalidate')).toEqual([
      { keys: [cartCacheKey(owners.user)] },
      { keys: [cartCacheKey(owners.user)] },
    ]);
  });

  it('writes no invalidation when the quantity stays the same', async () => {
    const { owners, deps, messages, game } = await setup();
    const gameId = await game();
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 3 });
    await ground.clearOutbox();

    await setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 3 });

    expect(await messages()).toEqual([]);
  });

  it('answers CART_ITEM_NOT_FOUND for a game not in the cart, and GAME_NOT_FOUND for an unknown game', async () => {
    const { owners, deps, quantities, game } = await setup();
    const gameId = await game();
    await addCartItem(deps, { owner: owners.guest, gameId, quantity: 1 });

    await expectDomainError(
      setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 2 }),
      'CART_ITEM_NOT_FOUND',
    );
    await expectDomainError(
      setCartItemQuantity(deps, { owner: owners.user, gameId: UNKNOWN_GAME, quantity: 2 }),
      'GAME_NOT_FOUND',
    );
    expect(await quantities(owners.user)).toEqual({});
    expect(await quantities(owners.guest)).toEqual({ [gameId]: 1 });
  });

  it('refuses a quantity over 10 with QUANTITY_LIMIT and one below 1 as VALIDATION_FAILED', async () => {
    const { owners, deps, quantities, game } = await setup();
    const gameId = await game();
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 4 });

    await expectDomainError(
      setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 11 }),
      'QUANTITY_LIMIT',
    );
    await expectDomainError(
      setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 0 }),
      'VALIDATION_FAILED',
    );
    expect(await quantities(owners.user)).toEqual({ [gameId]: 4 });
  });

  it.each([
    ['sold out', { qty: 0 }],
    ['delisted', { delisted: true }],
  ])('lets the quantity of a %s game go down, but not up (OUT_OF_STOCK, unchanged)', async (_, change) => {
    const { owners, deps, quantities, messages, game } = await setup();
    const gameId = await game();
    await addCartItem(deps, { owner: owners.user, gameId, quantity: 5 });
    await updateGame(ground.db, gameId, change);

    const lowered = await setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 3 });
    expect(lowered.items).toMatchObject([{ gameId, quantity: 3, inStock: false }]);
    await ground.clearOutbox();

    await expectDomainError(
      setCartItemQuantity(deps, { owner: owners.user, gameId, quantity: 4 }),
      'OUT_OF_STOCK',
    );
    expect(await quantities(owners.user)).toEqual({ [gameId]: 3 });
    expect(await messages()).toEqual([]);
  });
});

describe('removeCartItem and clearCart', () => {
  it('removes one line and invalidates; removing it again changes and writes nothing', async () => {
    const { owners, deps, quantities, game } = await setup();
    const [kept, removed] = [await game(), await game()];
    await addCartItem(deps, { owner: owners.user, gameId: kept, quantity: 1 });
    await addCartItem(deps, { owner: owners.user, gameId: removed, quantity: 2 });
    await ground.clearOutbox();

    await removeCartItem(deps, { owner: owners.user, gameId: removed });
    await removeCartItem(deps, { owner: owners.user, gameId: removed });

    expect(await quantities(owners.user)).toEqual({ [kept]: 1 });
    expect(await ground.outbox('cache.invalidate')).toEqual([{ keys: [cartCacheKey(owners.user)] }]);
  });

  it("clears every line of one owner and none of another's; clearing an empty cart writes nothing", async () => {
    const { owners, deps, quantities, game } = await setup();
    const [first, second] = [await game(), await game()];
    await addCartItem(deps, { owner: owners.guest, gameId: first, quantity: 1 });
    await addCartItem(deps, { owner: owners.guest, gameId: second, quantity: 2 });
    await addCartItem(deps, { owner: owners.user, gameId: first, quantity: 3 });
    await ground.clearOutbox();

    await clearCart(deps, owners.guest);
    await clearCart(deps, owners.guest);

    expect(await quantities(owners.guest)).toEqual({});
    expect(await quantities(owners.user)).toEqual({ [first]: 3 });
    expect(await ground.outbox('cache.invalidate')).toEqual([{ keys: [cartCacheKey(owners.guest)] }]);
  });
});

describe('getCart', () => {
  it('answers an empty cart for an owner without lines', async () => {
    const { owners, readCart } = await setup();

    expect(await readCart(owners.guest)).toEqual({ items: [], totalCents: 0, currency: 'EUR' });
  });

  it('serves the second read from the cache, and reads again after any change to the cart', async () => {
    const { owners, deps, readCart, cacheStats, cachedCart, game } = await setup();
    const [first, second] = [await game({ priceCents: 1000 }), await game({ priceCents: 250 })];
    await addCartItem(deps, { owner: owners.user, gameId: first, quantity: 1 });

    const loaded = await readCart(owners.user);
    expect(cacheStats().misses).toBe(1);
    expect(await readCart(owners.user)).toEqual(loaded);
    expect(cacheStats().hits).toBe(1);
    expect(await cachedCart(owners.user)).toEqual(loaded);

    const changes = [
      () => addCartItem(deps, { owner: owners.user, gameId: second, quantity: 2 }),
      () => setCartItemQuantity(deps, { owner: owners.user, gameId: first, quantity: 3 }),
      () => removeCartItem(deps, { owner: owners.user, gameId: second }),
      () => clearCart(deps, owners.user),
    ];
    const totals: number[] = [];
    for (const change of changes) {
      await change();
      expect(await cachedCart(owners.user)).toBeUndefined();
      totals.push((await readCart(owners.user)).totalCents);
    }

    expect(totals).toEqual([1500, 3500, 3000, 0]);
    expect(cacheStats()).toEqual({ hits: 1, misses: 5 });
  });

  it("does not invalidate another owner's cached cart", async () => {
    const { owners, deps, readCart, cachedCart, game } = await setup();
    const gameId = await game();
    await addCartItem(deps, { owner: owners.guest, gameId, quantity: 1 });
    const guestCart = await readCart(owners.guest);

    await addCartItem(deps, { owner: owners.user, gameId, quantity: 1 });

    expect(await cachedCart(owners.guest)).toEqual(guestCart);
  });
});
