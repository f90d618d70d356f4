import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertGame } from '../support/games.js';
import { pendingOutbox } from '../support/outbox.js';
import { RedisProcess } from '../support/redis-process.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

let redis: RedisProcess;
let shop: TestShop;
const api = (path: string) => `/api/v1${path}`;

beforeAll(async () => {
  redis = await RedisProcess.onFreePort();
  await redis.start();
  shop = await startTestShop({ env: { REDIS_URL: redis.url } });
});
afterAll(async () => {
  redis.thaw();
  await shop?.dispose();
  await redis.stop();
});

type Headers = Record<string, string>;

async function call(
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  path: string,
  headers: Headers,
  payload?: object,
) {
  return shop.app!.inject({ method, url: api(path), headers, ...(payload ? { payload } : {}) });
}

async function quantities(headers: Headers): Promise<Record<string, number>> {
  const response = await call('GET', '/cart', headers);
  expect(response.statusCode).toBe(200);
  return Object.fromEntries(
    response.json().items.map((item: { gameId: string; quantity: number }) => [item.gameId, item.quantity]),
  );
}

async function wishlist(headers: Headers): Promise<string[]> {
  const response = await call('GET', '/wishlist', headers);
  expect(response.statusCode).toBe(200);
  return response.json().items.map((item: { gameId: string }) => item.gameId);
}

const pendingInvalidations = () => pendingOutbox(shop.db, 'cache.invalidate');

/** Every cart and wishlist operation of one owner, checked against PostgreSQL's answer. */
async function exerciseEverything(headers: Headers) {
  const game = await insertGame(shop.db);
  const other = await insertGame(shop.db);
  expect((await call('POST', '/cart/items', headers, { gameId: game, quantity: 2 })).statusCode).toBe(201);
  expect((await call('POST', '/cart/items', headers, { gameId: game, quantity: 1 })).statusCode).toBe(200);
  expect((await call('POST', '/cart/items', headers, { gameId: other })).statusCode).toBe(201);
  expect((await call('POST', '/cart/items', headers, { gameId: game, quantity: 8 })).statusCode).toBe(422);
  expect(await quantities(headers)).toEqual({ [game]: 3, [other]: 1 });
  expect((await call('PATCH', `/cart/items/${game}`, headers, { quantity: 5 })).statusCode).toBe(200);
  expect(await quantities(headers)).toEqual({ [game]: 5, [other]: 1 });
  expect((await call('DELETE', `/cart/items/${other}`, headers)).statusCode).toBe(204);
  expect(await quantities(headers)).toEqual({ [game]: 5 });
  expect((await call('DELETE', '/cart', headers)).statusCode).toBe(204);
  expect(await quantities(headers)).toEqual({});

  expect((await call('PUT', `/wishlist/${game}`, headers)).statusCode).toBe(204);
  expect((await call('PUT', `/wishlist/${game}`, headers)).statusCode).toBe(204);
  expect(await wishlist(headers)).toEqual([game]);
  expect((await call('DELETE', `/wishlist/${game}`, headers)).statusCode).toBe(204);
  expect(await wishlist(headers)).toEqual([]);
}

async function newGuest(): Promise<Headers> {
  const response = await call('POST', '/sessions', {});
  expect(response.statusCode).toBe(201);
  return { 'x-session-id': response.json().sessionId };
}

describe('carts and wishlists without Redis', () => {
  it('serves every cart and wishlist operation from PostgreSQL while Redis hangs, then drains the invalidations', async () => {
    const guest = await newGuest();
    const game = await insertGame(shop.db);
    await call('POST', '/cart/items', guest, { gameId: game });
    // Cached while Redis was healthy: the entry a hung Redis would still hold when it comes back.
    expect(await quantities(guest)).toEqual({ [game]: 1 });

    redis.freeze();
    await exerciseEverything(await newGuest());
    expect((await call('POST', '/cart/items', guest, { gameId: game, quantity: 3 })).statusCode).toBe(200);
    expect(await quantities(guest)).toEqual({ [game]: 4 });
    expect(await pendingInvalidations()).toBeGreaterThan(0);

    redis.thaw();
    await waitFor(async () => (await pendingInvalidations()) === 0, 'invalidations drained', 20_000);
    await waitFor(async () => (await shop.cache.health()) === 'ok', 'cache healthy again');
    // The entry cached before the outage is gone: this read fills the cache afresh, the next one hits it.
    expect(await quantities(guest)).toEqual({ [game]: 4 });
    expect(await quantities(guest)).toEqual({ [game]: 4 });
  });

  it('serves every operation and merges at sign-in with Redis gone', async () => {
    await redis.stop();
    await exerciseEverything(await newGuest());

    const email = `${randomUUID()}@example.com`;
    const registered = await call('POST', '/auth/register', {}, { email, password: 'long enough' });
    expect(registered.statusCode).toBe(201);
    const account = { authorization: `Bearer ${registered.json().accessToken}` };
    await exerciseEverything(account);

    const game = await insertGame(shop.db);
    const guest = await newGuest();
    await call('POST', '/cart/items', guest, { gameId: game, quantity: 2 });
    await call('PUT', `/wishlist/${game}`, guest);
    const login = await call('POST', '/auth/login', guest, { email, password: 'long enough' });
    expect(login.statusCode).toBe(200);
    expect(login.json().merge).toEqual({
      cart: { merged: 1, skipped: [], capped: [] },
      wishlist: { merged: 1, skipped: [] },
    });
    expect(await quantities(account)).toEqual({ [game]: 2 });
    expect(await wishlist(account)).toEqual([game]);

    await redis.start();
    await waitFor(async () => (await pendingInvalidations()) === 0, 'invalidations drained', 20_000);
    expect(await quantities(account)).toEqual({ [game]: 2 });
  });
});
