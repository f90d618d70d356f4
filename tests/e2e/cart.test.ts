import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidateCatalogChanges } from '../../src/application/catalog-invalidation.js';
import { insertGame } from '../support/games.js';
import { api, ApiClient, type Headers } from '../support/http.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

let shop: TestShop;
let http: ApiClient;

beforeAll(async () => {
  shop = await startTestShop();
  http = new ApiClient(shop);
});
afterAll(() => shop?.dispose());

type Identity = Headers;

const guest = () => http.guest();
const registered = () => http.registered();
const user = async () => (await http.registered()).headers;
const getCart = (headers: Identity) => http.get('/cart', headers);
const addItem = (headers: Identity, payload: unknown) => http.post('/cart/items', payload, headers);
const setQuantity = (headers: Identity, gameId: string, payload: unknown) =>
  http.patch(`/cart/items/${gameId}`, payload, headers);
const getWishlist = (headers: Identity, query = '') => http.get(`/wishlist${query}`, headers);
const putWishlist = (headers: Identity, gameId: string) =>
  http.put(`/wishlist/${gameId}`, undefined, headers);

async function quantities(headers: Identity): Promise<Record<string, number>> {
  const cart = (await getCart(headers)).json();
  return Object.fromEntries(
    cart.items.map((item: { gameId: string; quantity: number }) => [item.gameId, item.quantity]),
  );
}

async function cartRowCount(): Promise<number> {
  const row = await shop.db
    .selectFrom('cart_items')
    .select(shop.db.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  return row.n;
}

describe.each([
  ['a guest', guest],
  ['a signed-in user', user],
])('the cart of %s', (_who, identity) => {
  it('adds, sums, sets, removes and clears, with current prices and a total', async () => {
    const headers = await identity();
    const cheap = await insertGame(shop.db, { name: 'Cheap Game', priceCents: 1020 });
    const dear = await insertGame(shop.db, { name: 'Dear Game', priceCents: 5999 });

    const empty = await getCart(headers);
    expect(empty.statusCode).toBe(200);
    expect(empty.json()).toEqual({ items: [], totalCents: 0, currency: 'EUR' });

    const created = await addItem(headers, { gameId: cheap });
    expect(created.statusCode).toBe(201);
    expect(created.json().items).toEqual([
      expect.objectContaining({
        gameId: cheap,
        name: 'Cheap Game',
        quantity: 1,
        unitPriceCents: 1020,
        inStock: true,
      }),
    ]);
    const more = await addItem(headers, { gameId: cheap, quantity: 2 });
    expect(more.statusCode).toBe(200);
    expect((await addItem(headers, { gameId: dear, quantity: 1 })).statusCode).toBe(201);

    const cart = (await getCart(headers)).json();
    expect(cart.items.map((i: { gameId: string; quantity: number }) => [i.gameId, i.quantity])).toEqual([
      [cheap, 3],
      [dear, 1],
    ]);
    expect(cart.items[0].slug).toMatch(/^cheap-game-/);
    expect(cart.totalCents).toBe(3 * 1020 + 5999);

    // The price is the one checkout charges: a change shows at once (the sync invalidates holders' carts).
    await shop.db.updateTable('games').set({ price_cents: 1100 }).where('id', '=', cheap).execute();
    await shop.uow.run((scope) =>
      invalidateCatalogChanges(scope, {
        changedGameIds: [cheap],
        repricedGameIds: [],
        taxonomyChanged: false,
      }),
    );
    expect((await getCart(headers)).json().totalCents).toBe(3 * 1100 + 5999);

    const patched = await setQuantity(headers, cheap, { quantity: 7 });
    expect(patched.statusCode).toBe(200);
    expect(patched.json().items[0].quantity).toBe(7);
    expect(await quantities(headers)).toEqual({ [cheap]: 7, [dear]: 1 });

    const removed = await http.request({ method: 'DELETE', url: api(`/cart/items/${cheap}`), headers });
    expect(removed.statusCode).toBe(204);
    const removedAgain = await http.request({
      method: 'DELETE',
      url: api(`/cart/items/${cheap}`),
      headers,
    });
    expect(removedAgain.statusCode).toBe(204);
    expect(await quantities(headers)).toEqual({ [dear]: 1 });

    expect((await http.request({ method: 'DELETE', url: api('/cart'), headers })).statusCode).toBe(204);
    expect((await getCart(headers)).json().items).toEqual([]);
  });

  it('refuses unknown (404), out-of-stock and delisted (409) games and more than 10 units (422)', async () => {
    const headers = await identity();
    const soldOut = await insertGame(shop.db, { qty: 0 });
    const unbuyable = await insertGame(shop.db, { qty: 3, availableToBuy: false });
    const delisted = await insertGame(shop.db, { delisted: true });
    const game = await insertGame(shop.db);

    const unknown = await addItem(headers, { gameId: randomUUID() });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('GAME_NOT_FOUND');
    for (const gameId of [soldOut, unbuyable, delisted]) {
      const response = await addItem(headers, { gameId });
      expect(response.statusCode).toBe(409);
      expect(response.json().code).toBe('OUT_OF_STOCK');
    }

    expect((await addItem(headers, { gameId: game, quantity: 8 })).statusCode).toBe(201);
    const over = await addItem(headers, { gameId: game, quantity: 3 });
    expect(over.statusCode).toBe(422);
    expect(over.json()).toMatchObject({ code: 'QUANTITY_LIMIT', statusCode: 422 });
    expect((await addItem(headers, { gameId: game, quantity: 2 })).statusCode).toBe(200);
    expect(await quantities(headers)).toEqual({ [game]: 10 });

    const notInCart = await setQuantity(headers, soldOut, { quantity: 1 });
    expect(notInCart.statusCode).toBe(404);
    expect(notInCart.json().code).toBe('CART_ITEM_NOT_FOUND');
  });

  it('lets a line of a game that went out of stock shrink but not grow', async () => {
    const headers = await identity();
    const game = await insertGame(shop.db, { qty: 5 });
    await addItem(headers, { gameId: game, quantity: 4 });
    await shop.db.updateTable('games').set({ qty: 0 }).where('id', '=', game).execute();
    await shop.uow.run((scope) =>
      invalidateCatalogChanges(scope, {
        changedGameIds: [game],
        repricedGameIds: [],
        taxonomyChanged: false,
      }),
    );

    const cart = (await getCart(headers)).json();
    expect(cart.items[0]).toMatchObject({ gameId: game, quantity: 4, inStock: false });
    const grow = await setQuantity(headers, game, { quantity: 5 });
    expect(grow.statusCode).toBe(409);
    expect(grow.json().code).toBe('OUT_OF_STOCK');
    expect((await setQuantity(headers, game, { quantity: 2 })).statusCode).toBe(200);
    expect(await quantities(headers)).toEqual({ [game]: 2 });
  });

  it('keeps a wishlist: PUT and DELETE are idempotent, out-of-stock games welcome, unknown games 404', async () => {
    const headers = await identity();
    const first = await insertGame(shop.db, { name: 'First Wish', priceCents: 1500 });
    const soldOut = await insertGame(shop.db, { name: 'Sold Out Wish', qty: 0 });

    expect((await putWishlist(headers, first)).statusCode).toBe(204);
    expect((await putWishlist(headers, first)).statusCode).toBe(204);
    expect((await putWishlist(headers, soldOut)).statusCode).toBe(204);
    const unknown = await putWishlist(headers, randomUUID());
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('GAME_NOT_FOUND');

    const wishlist = (await getWishlist(headers)).json();
    expect(wishlist).toMatchObject({ page: 1, pageSize: 20, total: 2 });
    expect(wishlist.items).toEqual([
      expect.objectContaining({
        gameId: soldOut,
        name: 'Sold Out Wish',
        inStock: false,
        addedAt: expect.any(String),
      }),
      expect.objectContaining({
        gameId: first,
        name: 'First Wish',
        priceCents: 1500,
        currency: 'EUR',
        inStock: true,
      }),
    ]);
    const secondPage = (await getWishlist(headers, '?page=2&pageSize=1')).json();
    expect(secondPage.items.map((i: { gameId: string }) => i.gameId)).toEqual([first]);

    const remove = () => http.request({ method: 'DELETE', url: api(`/wishlist/${first}`), headers });
    expect((await remove()).statusCode).toBe(204);
    expect((await remove()).statusCode).toBe(204);
    expect((await getWishlist(headers)).json().items.map((i: { gameId: string }) => i.gameId)).toEqual([
      soldOut,
    ]);
  });
});

describe('cart identity', () => {
  it('answers 401 SESSION_REQUIRED with no identity and with a guest id that was never issued', async () => {
    const game = await insertGame(shop.db);
    const before = await cartRowCount();
    const identities: Identity[] = [
      {},
      { 'x-session-id': 'never-issued-session-id' },
      { 'x-session-id': 'bad id!' },
    ];
    for (const headers of identities) {
      for (const response of [
        await getCart(headers),
        await addItem(headers, { gameId: game }),
        await getWishlist(headers),
        await putWishlist(headers, game),
      ]) {
        expect(response.statusCode).toBe(401);
        expect(response.json().code).toBe('SESSION_REQUIRED');
      }
    }
    expect(await cartRowCount()).toBe(before);
  });

  it('gives the cart to the user when both a bearer token and a guest session come', async () => {
    const game = await insertGame(shop.db);
    const session = await guest();
    const account = await user();
    await addItem({ ...session, authorization: account.authorization! }, { gameId: game });
    expect(await quantities({ authorization: account.authorization! })).toEqual({ [game]: 1 });
    expect(await quantities(session)).toEqual({});
  });

  it('keeps owners apart', async () => {
    const game = await insertGame(shop.db);
    const [a, b] = [await guest(), await guest()];
    await addItem(a, { gameId: game, quantity: 2 });
    expect(await quantities(b)).toEqual({});
  });
});

describe('bad input gets a documented 4xx and changes nothing', () => {
  it.each([
    ['zero', { quantity: 0 }, 400, 'VALIDATION_FAILED'],
    ['a negative quantity', { quantity: -1 }, 400, 'VALIDATION_FAILED'],
    ['a fractional quantity', { quantity: 1.5 }, 400, 'VALIDATION_FAILED'],
    ['a string for a number', { quantity: '2' }, 400, 'VALIDATION_FAILED'],
    ['more than 10', { quantity: 11 }, 422, 'QUANTITY_LIMIT'],
    ['far more than 10', { quantity: 1e9 }, 422, 'QUANTITY_LIMIT'],
  ])('POST /cart/items with %s', async (_case, body, status, code) => {
    const headers = await guest();
    const game = await insertGame(shop.db);
    await addItem(headers, { gameId: game, quantity: 1 });
    const before = await cartRowCount();

    const response = await addItem(headers, { gameId: game, ...body });
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ statusCode: status, code });
    if (status === 400) expect(response.json().field).toBe('quantity');
    expect(await cartRowCount()).toBe(before);
    expect(await quantities(headers)).toEqual({ [game]: 1 });

    const patched = await setQuantity(headers, game, body);
    expect(patched.statusCode).toBe(status);
    expect(patched.json().code).toBe(code);
    expect(await quantities(headers)).toEqual({ [game]: 1 });
  });

  it('refuses a malformed game id, in the body and in the path, naming it', async () => {
    const headers = await guest();
    const body = await addItem(headers, { gameId: 'not-a-uuid' });
    expect(body.statusCode).toBe(400);
    expect(body.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'gameId' });
    for (const [method, path] of [
      ['PATCH', '/cart/items/not-a-uuid'],
      ['DELETE', '/cart/items/not-a-uuid'],
      ['PUT', '/wishlist/not-a-uuid'],
      ['DELETE', '/wishlist/not-a-uuid'],
    ] as const) {
      const response = await http.request({
        method,
        url: api(path),
        headers,
        ...(method === 'PATCH' ? { payload: { quantity: 1 } } : {}),
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'gameId' });
    }
    expect(await quantities(headers)).toEqual({});
  });

  it('refuses a missing game id and a body that is not an object', async () => {
    const headers = await guest();
    const missing = await addItem(headers, { quantity: 1 });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'gameId' });
    const array = await addItem(headers, []);
    expect(array.statusCode).toBe(400);
    expect(await quantities(headers)).toEqual({});
  });
});

describe('concurrency and cache', () => {
  it('20 parallel adds of one unit end at exactly 10: ten succeed, ten are refused, none lost', async () => {
    const game = await insertGame(shop.db, { qty: 100 });
    for (const headers of [await guest(), await user()]) {
      const responses = await Promise.all(
        Array.from({ length: 20 }, () => addItem(headers, { gameId: game })),
      );
      const statuses = responses.map((r) => r.statusCode).sort();
      expect(statuses.filter((s) => s === 201)).toHaveLength(1);
      expect(statuses.filter((s) => s === 200)).toHaveLength(9);
      expect(statuses.filter((s) => s === 422)).toHaveLength(10);
      expect(await quantities(headers)).toEqual({ [game]: 10 });
    }
  });

  it('reads its own writes although a cached copy existed', async () => {
    const { headers, userId } = await registered();
    const game = await insertGame(shop.db);
    const other = await insertGame(shop.db);
    expect((await getCart(headers)).json().items).toEqual([]);
    expect((await getWishlist(headers)).json().items).toEqual([]);
    const key = `user:${userId}:cart`;
    // The empty cart was cached: a read now is served by Redis, not by PostgreSQL.
    expect(await shop.cache.getOrLoad({ key }, 60, async () => 'not cached')).toEqual({
      items: [],
      totalCents: 0,
      currency: 'EUR',
    });

    await addItem(headers, { gameId: game, quantity: 2 });
    expect(await quantities(headers)).toEqual({ [game]: 2 });
    await setQuantity(headers, game, { quantity: 3 });
    expect(await quantities(headers)).toEqual({ [game]: 3 });
    await addItem(headers, { gameId: other });
    expect(await quantities(headers)).toEqual({ [game]: 3, [other]: 1 });
    await http.request({ method: 'DELETE', url: api(`/cart/items/${game}`), headers });
    expect(await quantities(headers)).toEqual({ [other]: 1 });
    await http.request({ method: 'DELETE', url: api('/cart'), headers });
    expect(await quantities(headers)).toEqual({});

    await putWishlist(headers, game);
    expect((await getWishlist(headers)).json().total).toBe(1);
    await http.request({ method: 'DELETE', url: api(`/wishlist/${game}`), headers });
    expect((await getWishlist(headers)).json().total).toBe(0);
  });
});
