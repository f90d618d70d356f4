import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminToken, g2aEnv, startSimulator, syncAndWait, type RunningSimulator } from '../support/g2a.js';
import { outboxJobs, pendingOutbox } from '../support/outbox.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

let simulator: RunningSimulator;
let shop: TestShop;
let admin: Record<string, string>;
const PRODUCTS = 65;

const get = (url: string) => shop.app!.inject({ method: 'GET', url: `/api/v1${url}` });

beforeAll(async () => {
  simulator = await startSimulator({ products: PRODUCTS });
  shop = await startTestShop({ env: g2aEnv(simulator.url) });
  admin = await adminToken(shop);
});
afterAll(async () => {
  await shop?.dispose();
  await simulator?.close();
});

async function gameOf(productId: string) {
  return shop.db
    .selectFrom('games')
    .selectAll()
    .where('g2a_product_id', '=', productId)
    .executeTakeFirstOrThrow();
}

describe('catalogue sync from the simulator', () => {
  const ids: string[] = [];

  it('imports every product, out-of-stock ones included, and applies the 2 % markup half up', async () => {
    const all = simulator.state.listProducts({ page: 1, includeOutOfStock: true });
    for (let page = 1; page <= Math.ceil(all.total / 20); page++) {
      ids.push(...simulator.state.listProducts({ page, includeOutOfStock: true }).docs.map((p) => p.id));
    }
    simulator.state.updateProduct(ids[0]!, { minPrice: 10, qty: 5, availableToBuy: true });
    simulator.state.updateProduct(ids[1]!, { minPrice: 9.99, qty: 5, availableToBuy: true });
    simulator.state.updateProduct(ids[2]!, { minPrice: 0.01, qty: 0 });
    simulator.state.updateProduct(ids[3]!, { minPrice: 20, qty: 3, availableToBuy: false });

    const run = await syncAndWait(shop, 'catalog', admin);
    expect(run).toMatchObject({
      status: 'finished',
      progress: { pagesDone: 4, pagesTotal: 4, upserted: PRODUCTS },
    });

    const count = await shop.db
      .selectFrom('games')
      .select(sql<number>`count(*)::int`.as('n'))
      .executeTakeFirstOrThrow();
    expect(count.n).toBe(PRODUCTS);
    expect(await gameOf(ids[0]!)).toMatchObject({ cost_cents: 1000, price_cents: 1020 });
    expect(await gameOf(ids[1]!)).toMatchObject({ cost_cents: 999, price_cents: 1019 });
    expect(await gameOf(ids[2]!)).toMatchObject({ cost_cents: 1, price_cents: 1, qty: 0 });
  });

  it('serves the catalogue: lists, one game by id and by slug, stock flags, taxonomy filters', async () => {
    const list = await get('/games?pageSize=100');
    expect(list.statusCode).toBe(200);
    expect(list.json()).toMatchObject({ page: 1, pageSize: 100, total: PRODUCTS });

    const outOfStock = await gameOf(ids[2]!);
    const byId = (await get(`/games/${outOfStock.id}`)).json();
    expect(byId).toMatchObject({
      id: outOfStock.id,
      priceCents: 1,
      inStock: false,
      delisted: false,
      currency: 'EUR',
    });
    expect((await get(`/games/${outOfStock.slug}`)).json().id).toBe(outOfStock.id);
    expect((await get(`/games/${(await gameOf(ids[3]!)).id}`)).json().inStock).toBe(false);
    expect((await get(`/games/${(await gameOf(ids[0]!)).id}`)).json().inStock).toBe(true);

    const inStockOnly = (await get('/games?inStock=true&pageSize=100')).json();
    expect(inStockOnly.items.every((g: { inStock: boolean }) => g.inStock)).toBe(true);
    expect(inStockOnly.total).toBeLessThan(PRODUCTS);

    const platforms = (await get('/platforms')).json().items as { slug: string }[];
    expect(platforms.length).toBeGreaterThan(0);
    const onPlatform = (await get(`/games?platform=${platforms[0]!.slug}&pageSize=100`)).json();
    expect(onPlatform.total).toBeGreaterThan(0);
    expect(
      onPlatform.items.every((g: { platformSlug: string }) => g.platformSlug === platforms[0]!.slug),
    ).toBe(true);

    const categories = (await get('/categories')).json().items as { slug: string }[];
    expect(categories.length).toBeGreaterThan(0);
    const inCategory = (await get(`/games?category=${categories[0]!.slug}&pageSize=100`)).json();
    expect(
      inCategory.items.every((g: { categories: { slug: string }[] }) =>
        g.categories.some((c) => c.slug === categories[0]!.slug),
      ),
    ).toBe(true);

    const cheap = (await get('/games?sort=price_asc&pageSize=3&maxPriceCents=1019')).json();
    expect(cheap.items[0].priceCents).toBe(1);
    const sorted = cheap.items.map((g: { priceCents: number }) => g.priceCents);
    expect(sorted).toEqual([...sorted].sort((a, b) => a - b));

    expect((await get('/games/00000000-0000-4000-8000-000000000000')).json()).toMatchObject({
      statusCode: 404,
      code: 'GAME_NOT_FOUND',
    });
    expect((await get('/games/no-such-slug')).statusCode).toBe(404);
    expect((await get('/games?pageSize=101')).json()).toMatchObject({
      statusCode: 400,
      code: 'VALIDATION_FAILED',
      field: 'pageSize',
    });
    expect((await get('/games?page=0')).statusCode).toBe(400);
    expect((await get('/games?sort=cheapest')).statusCode).toBe(400);

    const home = (await get('/home')).json();
    expect(home.bestSellers.length).toBeGreaterThan(0);
    expect(home.bestSellers.every((g: { inStock: boolean }) => g.inStock)).toBe(true);
  });

  it('shows a price change after the stock check everywhere, carts included, with no cached copy of the old price left', async () => {
    const game = await gameOf(ids[0]!);
    // Warm every cache that holds the price.
    expect((await get(`/games/${game.id}`)).json().priceCents).toBe(1020);
    const pageQuery = '/games?sort=price_asc&pageSize=100';
    expect((await get(pageQuery)).json().items.find((g: { id: string }) => g.id === game.id).priceCents).toBe(
      1020,
    );
    expect((await get(`/games/${game.slug}`)).json().priceCents).toBe(1020);

    // A guest cart holding the game, cached too.
    const { sessionId } = (await shop.app!.inject({ method: 'POST', url: '/api/v1/sessions' })).json();
    const guest = { 'x-session-id': sessionId };
    const added = await shop.app!.inject({
      method: 'POST',
      url: '/api/v1/cart/items',
      headers: guest,
      payload: { gameId: game.id },
    });
    expect(added.statusCode).toBe(201);
    const cart = () => shop.app!.inject({ method: 'GET', url: '/api/v1/cart', headers: guest });
    // The outbox re-deletes what the add invalidated; let it finish so the cart below stays cached.
    await waitFor(async () => (await pendingOutbox(shop.db)) === 0, 'outbox drained');
    expect((await cart()).json()).toMatchObject({
      items: [{ gameId: game.id, unitPriceCents: 1020 }],
      totalCents: 1020,
    });

    simulator.state.updateProduct(ids[0]!, { minPrice: 12.5 });
    const run = await syncAndWait(shop, 'stock', admin);
    expect(run).toMatchObject({ status: 'finished', progress: { changed: 1 } });

    expect((await get(`/games/${game.id}`)).json().priceCents).toBe(1275);
    expect((await get(`/games/${game.slug}`)).json().priceCents).toBe(1275);
    expect((await get(pageQuery)).json().items.find((g: { id: string }) => g.id === game.id).priceCents).toBe(
      1275,
    );
    expect((await cart()).json()).toMatchObject({
      items: [{ gameId: game.id, unitPriceCents: 1275 }],
      totalCents: 1275,
    });
  });

  it('writes and invalidates only what changed', async () => {
    const messages = async () => (await outboxJobs(shop.db, 'cache.invalidate')).length;
    const before = await messages();
    const run = await syncAndWait(shop, 'stock', admin);
    expect(run.progress.changed).toBe(0);
    expect(await messages()).toBe(before);
  });

  it('delists a product that vanished (still answering by id) and relists it when it returns', async () => {
    const game = await gameOf(ids[5]!);
    simulator.state.removeProduct(ids[5]!);
    await syncAndWait(shop, 'catalog', admin);
    expect((await get(`/games/${game.id}`)).json()).toMatchObject({
      id: game.id,
      delisted: true,
      inStock: false,
    });
    const list = (await get('/games?pageSize=100')).json();
    expect(list.total).toBe(PRODUCTS - 1);
    expect(list.items.some((g: { id: string }) => g.id === game.id)).toBe(false);

    simulator.state.updateProduct(ids[5]!, { listed: true });
    await syncAndWait(shop, 'catalog', admin);
    expect((await get(`/games/${game.id}`)).json().delisted).toBe(false);
    expect((await get('/games?pageSize=100')).json().total).toBe(PRODUCTS);
  });

  it("keeps the shop's own genres and categories through a sync", async () => {
    const game = await gameOf(ids[6]!);
    const genre = await shop.db
      .insertInto('genres')
      .values({ slug: 'roguelike', name: 'Roguelike' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const category = await shop.db
      .insertInto('categories')
      .values({ slug: 'staff-picks', name: 'Staff picks' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await shop.db
      .insertInto('game_genres')
      .values({ game_id: game.id, genre_id: genre.id, source: 'shop' })
      .execute();
    await shop.db
      .insertInto('game_categories')
      .values({ game_id: game.id, category_id: category.id, source: 'shop' })
      .execute();

    simulator.state.updateProduct(ids[6]!, { minPrice: 33.33 });
    await syncAndWait(shop, 'catalog', admin);

    const view = (await get(`/games/${game.id}`)).json();
    expect(view.priceCents).toBe(3400);
    expect(view.genres).toEqual([{ slug: 'roguelike', name: 'Roguelike' }]);
    expect(view.categories).toEqual(expect.arrayContaining([{ slug: 'staff-picks', name: 'Staff picks' }]));
    expect((await get('/games?genre=roguelike')).json().items.map((g: { id: string }) => g.id)).toEqual([
      game.id,
    ]);
  });

  it('runs one sync at a time: of two concurrent triggers one is accepted, the other is 409', async () => {
    const [a, b] = await Promise.all([
      shop.app!.inject({ method: 'POST', url: '/api/v1/admin/sync/catalog', headers: admin }),
      shop.app!.inject({ method: 'POST', url: '/api/v1/admin/sync/stock', headers: admin }),
    ]);
    expect([a.statusCode, b.statusCode].sort()).toEqual([202, 409]);
    const refused = a.statusCode === 409 ? a : b;
    expect(refused.json()).toMatchObject({ code: 'SYNC_IN_PROGRESS' });
  });

  it('keeps /admin/sync for administrators', async () => {
    expect((await shop.app!.inject({ method: 'POST', url: '/api/v1/admin/sync/catalog' })).json().code).toBe(
      'UNAUTHORIZED',
    );
    expect((await get('/admin/sync/status')).statusCode).toBe(401);
  });
});
