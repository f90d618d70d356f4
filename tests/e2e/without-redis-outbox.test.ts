import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertGame } from '../support/games.js';
import { ApiClient } from '../support/http.js';
import { outboxJobs } from '../support/outbox.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

let shop: TestShop;
let http: ApiClient;

beforeAll(async () => {
  shop = await startTestShop({ withoutRedis: true });
  http = new ApiClient(shop);
});
afterAll(() => shop?.dispose());

it('writes no cache invalidations without Redis, and every other outbox message as before', async () => {
  const gameId = await insertGame(shop.db, { priceCents: 1500 });
  const { headers } = await http.registered();
  const added = await http.post('/cart/items', { gameId, quantity: 1 }, headers);
  expect(added.statusCode).toBe(201);
  expect((await http.get('/cart', headers)).json().items).toHaveLength(1);

  expect(await outboxJobs(shop.db, 'cache.invalidate')).toEqual([]);
  // The sign-up's verification e-mail still leaves through the outbox.
  expect((await outboxJobs(shop.db, 'email.send')).length).toBeGreaterThan(0);
});
