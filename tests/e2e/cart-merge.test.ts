import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invalidateCatalogChanges } from '../../src/application/catalog-invalidation.js';
import { insertGame, updateGame } from '../support/games.js';
import { api, ApiClient, type Headers } from '../support/http.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

let shop: TestShop;
let http: ApiClient;
const logLines: Record<string, unknown>[] = [];

beforeAll(async () => {
  const capture = new Writable({
    write(chunk, _encoding, done) {
      logLines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  shop = await startTestShop({
    env: { LOGIN_RATE_LIMIT: '1000' },
    logger: pino({ level: 'info' }, capture),
  });
  http = new ApiClient(shop);
});
afterAll(() => shop?.dispose());

const newGuest = () => http.guest();
const register = (email: string, headers: Headers = {}) =>
  http.post('/auth/register', { email, password: 'long enough' }, headers);
const login = (email: string, headers: Headers = {}) =>
  http.post('/auth/login', { email, password: 'long enough' }, headers);
const newUser = () => http.registered();

async function add(headers: Headers, gameId: string, quantity: number) {
  const response = await http.request({
    method: 'POST',
    url: api('/cart/items'),
    headers,
    payload: { gameId, quantity },
  });
  expect(response.statusCode).toBeLessThan(300);
}

async function wish(headers: Headers, gameId: string) {
  const response = await http.request({ method: 'PUT', url: api(`/wishlist/${gameId}`), headers });
  expect(response.statusCode).toBe(204);
}

async function cartOf(headers: Headers): Promise<Record<string, number>> {
  const response = await http.request({ method: 'GET', url: api('/cart'), headers });
  expect(response.statusCode).toBe(200);
  return Object.fromEntries(
    response.json().items.map((item: { gameId: string; quantity: number }) => [item.gameId, item.quantity]),
  );
}

async function wishlistOf(headers: Headers): Promise<string[]> {
  const response = await http.request({ method: 'GET', url: api('/wishlist?pageSize=100'), headers });
  expect(response.statusCode).toBe(200);
  return response
    .json()
    .items.map((item: { gameId: string }) => item.gameId)
    .sort();
}

async function setStock(gameId: string, change: { qty?: number; delisted?: boolean }) {
  await updateGame(shop.db, gameId, change);
  await shop.uow.run((scope) =>
    invalidateCatalogChanges(scope, {
      changedGameIds: [gameId],
      repricedGameIds: [],
      taxonomyChanged: false,
    }),
  );
}

describe('merging a guest cart and wishlist at sign-in', () => {
  it('moves disjoint lines, sums the same game, caps at 10, skips unsellable games and wishlist duplicates', async () => {
    const [same, capped, disjoint, soldOut, delisted] = await Promise.all(
      Array.from({ length: 5 }, () => insertGame(shop.db, { qty: 50 })),
    );
    const [alreadyWished, newWish, soldOutWish] = await Promise.all(
      Array.from({ length: 3 }, () => insertGame(shop.db)),
    );
    const account = await newUser();
    await add(account.headers, same!, 2);
    await add(account.headers, capped!, 9);
    await wish(account.headers, alreadyWished!);

    const guest = await newGuest();
    await add(guest, same!, 3);
    await add(guest, capped!, 4);
    await add(guest, disjoint!, 1);
    await add(guest, soldOut!, 2);
    await add(guest, delisted!, 1);
    await wish(guest, alreadyWished!);
    await wish(guest, newWish!);
    await wish(guest, soldOutWish!);
    await setStock(soldOut!, { qty: 0 });
    await setStock(delisted!, { delisted: true });
    await setStock(soldOutWish!, { qty: 0 });
    // Warm the caches of both owners: the merge must invalidate them.
    await cartOf(account.headers);
    await cartOf(guest);
    await wishlistOf(account.headers);
    await wishlistOf(guest);

    const response = await login(account.email, guest);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.accessToken).toEqual(expect.any(String));
    expect(body.merge).toEqual({
      cart: {
        merged: 3,
        skipped: [
          { gameId: soldOut, reason: 'out_of_stock' },
          { gameId: delisted, reason: 'delisted' },
        ],
        capped: [{ gameId: capped, requested: 13, quantity: 10 }],
      },
      wishlist: { merged: 2, skipped: [{ gameId: alreadyWished, reason: 'already_in_wishlist' }] },
    });

    expect(await cartOf(account.headers)).toEqual({ [same!]: 5, [capped!]: 10, [disjoint!]: 1 });
    // Skipped lines stay with the guest, who may retry at a later sign-in.
    expect(await cartOf(guest)).toEqual({ [soldOut!]: 2, [delisted!]: 1 });
    expect(await wishlistOf(account.headers)).toEqual([alreadyWished!, newWish!, soldOutWish!].sort());
    expect(await wishlistOf(guest)).toEqual([alreadyWished!]);

    const logged = logLines.find((line) => line.operation === 'cart.merge' && line.userId === account.userId);
    expect(logged).toMatchObject({
      outcome: 'merged',
      cartMerged: 3,
      cartSkipped: 2,
      durationMs: expect.any(Number),
    });

    // Back in stock: the skipped line merges at the next sign-in.
    await setStock(soldOut!, { qty: 5 });
    const again = (await login(account.email, guest)).json();
    expect(again.merge.cart).toEqual({
      merged: 1,
      skipped: [{ gameId: delisted, reason: 'delisted' }],
      capped: [],
    });
    expect(await cartOf(account.headers)).toEqual({
      [same!]: 5,
      [capped!]: 10,
      [disjoint!]: 1,
      [soldOut!]: 2,
    });
  });

  it('merges at registration too', async () => {
    const game = await insertGame(shop.db);
    const wished = await insertGame(shop.db);
    const guest = await newGuest();
    await add(guest, game, 2);
    await wish(guest, wished);

    const response = await register(`${randomUUID()}@example.com`, guest);
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.merge).toEqual({
      cart: { merged: 1, skipped: [], capped: [] },
      wishlist: { merged: 1, skipped: [] },
    });
    const account = { authorization: `Bearer ${body.accessToken}` };
    expect(await cartOf(account)).toEqual({ [game]: 2 });
    expect(await wishlistOf(account)).toEqual([wished]);
    expect(await cartOf(guest)).toEqual({});
  });

  it('does not merge without a guest session, nor when a bearer token comes too', async () => {
    const game = await insertGame(shop.db);
    const account = await newUser();
    const guest = await newGuest();
    await add(guest, game, 1);

    const plain = await login(account.email);
    expect(plain.statusCode).toBe(200);
    expect(plain.json()).not.toHaveProperty('merge');
    const both = await login(account.email, { ...guest, ...account.headers });
    expect(both.statusCode).toBe(200);
    expect(both.json()).not.toHaveProperty('merge');
    expect(await cartOf(guest)).toEqual({ [game]: 1 });
    expect(await cartOf(account.headers)).toEqual({});
  });

  it('signs in with an unknown guest session and reports that nothing merged', async () => {
    const account = await newUser();
    const response = await login(account.email, { 'x-session-id': 'never-issued-session-id' });
    expect(response.statusCode).toBe(200);
    expect(response.json().refreshToken).toEqual(expect.any(String));
    expect(response.json().merge).toMatchObject({
      cart: { merged: 0, skipped: [] },
      wishlist: { merged: 0, skipped: [] },
      error: { code: 'SESSION_REQUIRED', message: expect.any(String) },
    });
  });

  it('counts every guest line exactly once across 10 parallel logins with the same guest session', async () => {
    const [a, b, c] = await Promise.all(Array.from({ length: 3 }, () => insertGame(shop.db, { qty: 50 })));
    const [w1, w2] = await Promise.all(Array.from({ length: 2 }, () => insertGame(shop.db)));
    const account = await newUser();
    await add(account.headers, a!, 1);
    const guest = await newGuest();
    await add(guest, a!, 2);
    await add(guest, b!, 3);
    await add(guest, c!, 1);
    await wish(guest, w1!);
    await wish(guest, w2!);

    const responses = await Promise.all(Array.from({ length: 10 }, () => login(account.email, guest)));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    const merges = responses.map((r) => r.json().merge);
    expect(merges.every((m) => m.error === undefined)).toBe(true);
    expect(merges.reduce((sum, m) => sum + m.cart.merged, 0)).toBe(3);
    expect(merges.reduce((sum, m) => sum + m.wishlist.merged, 0)).toBe(2);
    expect(await cartOf(account.headers)).toEqual({ [a!]: 3, [b!]: 3, [c!]: 1 });
    expect(await wishlistOf(account.headers)).toEqual([w1!, w2!].sort());
    expect(await cartOf(guest)).toEqual({});
    expect(await wishlistOf(guest)).toEqual([]);
  });

  it('still signs in when the merge fails, reports the error and leaves the guest cart intact', async () => {
    const game = await insertGame(shop.db);
    const other = await insertGame(shop.db);
    const wished = await insertGame(shop.db);
    const account = await newUser();
    const guest = await newGuest();
    await add(guest, game, 2);
    await add(guest, other, 1);
    await wish(guest, wished);

    // Any insert into this user's cart fails, as a broken constraint or a lost connection would.
    await sql`
      CREATE FUNCTION refuse_cart_insert() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'cart insert refused by the test'; END $$`.execute(shop.db);
    await sql`
      CREATE TRIGGER refuse_cart_insert BEFORE INSERT ON cart_items FOR EACH ROW
      WHEN (NEW.user_id = ${sql.lit(account.userId)}::uuid) EXECUTE FUNCTION refuse_cart_insert()`.execute(
      shop.db,
    );
    try {
      const response = await login(account.email, guest);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.accessToken).toEqual(expect.any(String));
      expect(body.refreshToken).toEqual(expect.any(String));
      expect(body.merge).toEqual({
        cart: { merged: 0, skipped: [], capped: [] },
        wishlist: { merged: 0, skipped: [] },
        error: { code: 'MERGE_FAILED', message: expect.any(String) },
      });
      expect(JSON.stringify(body.merge.error)).not.toContain('refused by the test');
      // The tokens work.
      expect(await cartOf({ authorization: `Bearer ${body.accessToken}` })).toEqual({});
      // Nothing moved: the whole merge, wishlist included, rolled back.
      expect(await cartOf(guest)).toEqual({ [game]: 2, [other]: 1 });
      expect(await wishlistOf(guest)).toEqual([wished]);
      expect(await wishlistOf(account.headers)).toEqual([]);
      const logged = logLines.find(
        (line) => line.operation === 'cart.merge' && line.userId === account.userId,
      );
      expect(logged).toMatchObject({ outcome: 'failed', durationMs: expect.any(Number) });
    } finally {
      await sql`DROP TRIGGER refuse_cart_insert ON cart_items`.execute(shop.db);
      await sql`DROP FUNCTION refuse_cart_insert()`.execute(shop.db);
    }

    const retried = (await login(account.email, guest)).json();
    expect(retried.merge.cart.merged).toBe(2);
    expect(await cartOf(account.headers)).toEqual({ [game]: 2, [other]: 1 });
  });
});
