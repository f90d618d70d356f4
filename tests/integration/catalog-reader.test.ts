import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { GameView } from '../../src/application/catalog-views.js';
import { getGame as getGameJson } from '../../src/application/get-game.js';
import { getHome as getHomeJson, type HomeView } from '../../src/application/get-home.js';
import { listGames as listGamesJson } from '../../src/application/list-games.js';
import { listTaxonomy } from '../../src/application/list-taxonomy.js';
import { slugify, type CatalogQuery, type Page, type TaxonomyRef } from '../../src/domain/game.js';
import type { CatalogEntry } from '../../src/ports/catalog.js';
import { KyselyCatalogReader } from '../../src/adapters/postgres/kysely-catalog-reader.js';
import { expectDomainError } from '../support/errors.js';
import { startGround, type Ground } from '../support/ground.js';

// The read use cases answer JSON text (served as is); these read it back.
const getGame = async (...args: Parameters<typeof getGameJson>) =>
  JSON.parse(await getGameJson(...args)) as GameView;
const listGames = async (...args: Parameters<typeof listGamesJson>) =>
  JSON.parse(await listGamesJson(...args)) as Page<GameView>;
const getHome = async (...args: Parameters<typeof getHomeJson>) =>
  JSON.parse(await getHomeJson(...args)) as HomeView;

const steam = { slug: 'steam', name: 'Steam' };
const action = { g2aId: 1, slug: 'action', name: 'Action' };

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

let lastProductId = 20_000;

function entry(name: string, fields: Partial<CatalogEntry> = {}): CatalogEntry {
  lastProductId += 1;
  return {
    g2aProductId: String(lastProductId),
    slug: `${slugify(name)}-i${lastProductId}`,
    name,
    description: null,
    platform: steam,
    region: 'GLOBAL',
    thumbnail: null,
    coverImage: null,
    releaseDate: null,
    costCents: 1000,
    priceCents: 1020,
    retailPriceCents: null,
    qty: 5,
    availableToBuy: true,
    g2aUpdatedAt: null,
    categories: [],
    ...fields,
  };
}

/** An empty catalogue, and a cache that remembers nothing of the last one. */
async function emptyCatalog() {
  for (const table of ['games', 'platforms', 'categories', 'genres'] as const) {
    await ground.db.deleteFrom(table).execute();
  }
  await ground.cache.invalidate({
    families: ['catalog', 'home'],
    keys: ['taxonomy:categories', 'taxonomy:genres', 'taxonomy:platforms'],
  });
}

/** Stores games as a catalogue sync would; `delisted` ones are then left out of a second run. */
async function seed(entries: CatalogEntry[], delisted: CatalogEntry[] = []) {
  await ground.uow.run((scope) => scope.catalog.upsertEntries(randomUUID(), [...entries, ...delisted]));
  if (delisted.length > 0) {
    const runId = randomUUID();
    await ground.uow.run(async (scope) => {
      await scope.catalog.upsertEntries(runId, entries);
      const unseen = await scope.catalog.unseenListed(runId, 10_000);
      await scope.catalog.delist(unseen.map((game) => game.id));
    });
  }
  const ids: Record<string, string> = {};
  for (const { name, slug } of [...entries, ...delisted])
    ids[name] = (await ground.readers.catalog.findIdBySlug(slug))!;
  return ids;
}

/**
 * What the shop curates itself, as an operator does in the database: popularity, and category and genre links
 * of its own ('shop' links, which every sync keeps).
 */
async function curate(
  gameId: string,
  curation: { popularity?: number; categories?: TaxonomyRef[]; genres?: TaxonomyRef[] },
) {
  const { db } = ground;
  if (curation.popularity !== undefined) {
    await db.updateTable('games').set({ popularity: curation.popularity }).where('id', '=', gameId).execute();
  }
  for (const ref of curation.categories ?? []) {
    await db
      .insertInto('categories')
      .values(ref)
      .onConflict((oc) => oc.column('slug').doNothing())
      .execute();
    const { id } = await db
      .selectFrom('categories')
      .select('id')
      .where('slug', '=', ref.slug)
      .executeTakeFirstOrThrow();
    await db
      .insertInto('game_categories')
      .values({ game_id: gameId, category_id: id, source: 'shop' })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
  for (const ref of curation.genres ?? []) {
    await db
      .insertInto('genres')
      .values(ref)
      .onConflict((oc) => oc.column('slug').doNothing())
      .execute();
    const { id } = await db
      .selectFrom('genres')
      .select('id')
      .where('slug', '=', ref.slug)
      .executeTakeFirstOrThrow();
    await db
      .insertInto('game_genres')
      .values({ game_id: gameId, genre_id: id, source: 'shop' })
      .onConflict((oc) => oc.doNothing())
      .execute();
  }
}

/**
 * Five listed games and a delisted one:
 * | name                 | price | stock       | platform | region        | released   | retail | curated             |
 * | Alpha Strike         |   500 | 5           | steam    | GLOBAL        | 2024-05-01 |    800 | popularity 80, indie |
 * | beta Quest           |  1500 | 0           | origin   | GLOBAL        | 2023-01-01 |        |                     |
 * | Gamma Racer          |  1500 | unavailable | steam    | GLOBAL        |            |        |                     |
 * | Delta Force          |  2500 | 3           | epic     | EUROPE        | 2025-02-02 |   3000 | popularity 50, tactical |
 * | Epsilon 100% Edition |  1500 | 9           | steam    | NORTH AMERICA | 2024-05-01 |   1500 | popularity 80       |
 * | Zeta Gone (delisted) |   100 | 5           | steam    | GLOBAL        | 2026-01-01 |    900 | popularity 99       |
 */
async function seedShop() {
  await emptyCatalog();
  const ids = await seed(
    [
      entry('Alpha Strike', {
        priceCents: 500,
        releaseDate: '2024-05-01',
        retailPriceCents: 800,
        categories: [action],
      }),
      entry('beta Quest', {
        priceCents: 1500,
        qty: 0,
        platform: { slug: 'origin', name: 'Origin' },
        releaseDate: '2023-01-01',
        categories: [{ g2aId: 3, slug: 'rpg', name: 'RPG' }],
      }),
      entry('Gamma Racer', { priceCents: 1500, availableToBuy: false }),
      entry('Delta Force', {
        priceCents: 2500,
        qty: 3,
        platform: { slug: 'epic-games', name: 'Epic games' },
        region: 'EUROPE',
        releaseDate: '2025-02-02',
        retailPriceCents: 3000,
        categories: [action, { g2aId: 9, slug: 'shooter', name: 'Shooter' }],
      }),
      entry('Epsilon 100% Edition', {
        priceCents: 1500,
        qty: 9,
        region: 'NORTH AMERICA',
        releaseDate: '2024-05-01',
        retailPriceCents: 1500,
      }),
    ],
    [
      entry('Zeta Gone', {
        priceCents: 100,
        releaseDate: '2026-01-01',
        retailPriceCents: 900,
        categories: [action],
      }),
    ],
  );
  await curate(ids['Alpha Strike']!, { popularity: 80, categories: [{ slug: 'indie', name: 'Indie' }] });
  await curate(ids['Delta Force']!, { popularity: 50, genres: [{ slug: 'tactical', name: 'Tactical' }] });
  await curate(ids['Epsilon 100% Edition']!, { popularity: 80 });
  await curate(ids['Zeta Gone']!, { popularity: 99 });
  return ids;
}

const names = (games: { name: string }[]) => games.map((game) => game.name);
/** Names of the listed games for `query`, as the reader answers them (first page of 50 unless it says otherwise). */
const list = async (query: Partial<CatalogQuery>) =>
  names((await ground.readers.catalog.list({ page: 1, pageSize: 50, ...query })).items);
/** Names in id order, the tie-break of every sort. */
const inIdOrder = (ids: Record<string, string>, ...tied: string[]) =>
  [...tied].sort((a, b) => (ids[a]! < ids[b]! ? -1 : 1));

describe('KyselyCatalogReader', () => {
  let ids: Record<string, string>;
  beforeAll(async () => {
    ids = await seedShop();
  });
  const byId = (...tied: string[]) => inIdOrder(ids, ...tied);

  it('reads a game in one statement and a catalogue page in two, whatever their taxonomy', async () => {
    let statements = 0;
    const counting = ground.db.withPlugin({
      transformQuery: (args) => {
        statements += 1;
        return args.node;
      },
      transformResult: async (args) => args.result,
    });
    const reader = new KyselyCatalogReader(counting);

    expect((await reader.findById(ids['Alpha Strike']!))?.categories).toHaveLength(2);
    expect(statements).toBe(1);
    statements = 0;
    const page = await reader.list({ page: 1, pageSize: 20 });
    expect(page.items.length).toBeGreaterThan(1);
    expect(statements).toBe(2);
  });

  it('finds a game by id, with its platform and its G2A and curated taxonomy, and an id by slug', async () => {
    const reader = ground.readers.catalog;
    const id = ids['Alpha Strike']!;

    const game = await reader.findById(id);

    expect(game).toEqual({
      id,
      slug: expect.stringMatching(/^alpha-strike-i\d+$/),
      name: 'Alpha Strike',
      g2aProductId: expect.any(String),
      costCents: 1000,
      priceCents: 500,
      currency: 'EUR',
      qty: 5,
      availableToBuy: true,
      delisted: false,
      platform: { slug: 'steam', name: 'Steam' },
      region: 'GLOBAL',
      thumbnail: null,
      coverImage: null,
      description: null,
      releaseDate: '2024-05-01',
      categories: [
        { slug: 'action', name: 'Action' },
        { slug: 'indie', name: 'Indie' },
      ],
      genres: [],
      updatedAt: expect.any(Date),
    });
    expect(await reader.findIdBySlug(game!.slug)).toBe(id);
    expect(await reader.findById(ids['Delta Force']!)).toMatchObject({
      genres: [{ slug: 'tactical', name: 'Tactical' }],
    });
  });

  it('finds a delisted game too, and answers null for what does not exist', async () => {
    const reader = ground.readers.catalog;

    expect(await reader.findById(ids['Zeta Gone']!)).toMatchObject({ name: 'Zeta Gone', delisted: true });
    expect(await reader.findById(randomUUID())).toBeNull();
    expect(await reader.findIdBySlug('no-such-game-i1')).toBeNull();
  });

  it('lists listed games by name, case-insensitively, leaving delisted ones out', async () => {
    expect(await list({})).toEqual([
      'Alpha Strike',
      'beta Quest',
      'Delta Force',
      'Epsilon 100% Edition',
      'Gamma Racer',
    ]);
    expect(await list({ sort: 'name' })).toEqual(await list({}));
  });

  it('filters by stock: in stock needs units and G2A allowing the purchase', async () => {
    expect(await list({ inStock: true })).toEqual(['Alpha Strike', 'Delta Force', 'Epsilon 100% Edition']);
    expect(await list({ inStock: false })).toEqual(['beta Quest', 'Gamma Racer']);
  });

  it('filters by an inclusive price range', async () => {
    expect(await list({ minPriceCents: 1500, maxPriceCents: 1500 })).toEqual([
      'beta Quest',
      'Epsilon 100% Edition',
      'Gamma Racer',
    ]);
    expect(await list({ minPriceCents: 501 })).toEqual([
      'beta Quest',
      'Delta Force',
      'Epsilon 100% Edition',
      'Gamma Racer',
    ]);
    expect(await list({ maxPriceCents: 499 })).toEqual([]);
  });

  it('filters by category (G2A or curated), genre, platform and region slugs', async () => {
    expect(await list({ category: 'action' })).toEqual(['Alpha Strike', 'Delta Force']);
    expect(await list({ category: 'indie' })).toEqual(['Alpha Strike']);
    expect(await list({ genre: 'tactical' })).toEqual(['Delta Force']);
    expect(await list({ platform: 'steam' })).toEqual([
      'Alpha Strike',
      'Epsilon 100% Edition',
      'Gamma Racer',
    ]);
    expect(await list({ region: 'north-america' })).toEqual(['Epsilon 100% Edition']);
    expect(await list({ platform: 'steam', inStock: true, category: 'action' })).toEqual(['Alpha Strike']);
    expect(await list({ category: 'unknown' })).toEqual([]);
  });

  it('searches names case-insensitively and takes wildcard characters literally', async () => {
    expect(await list({ q: 'QUEST' })).toEqual(['beta Quest']);
    expect(await list({ q: '%' })).toEqual(['Epsilon 100% Edition']);
    expect(await list({ q: '0%' })).toEqual(['Epsilon 100% Edition']);
    expect(await list({ q: 'a_' })).toEqual([]);
    expect(await list({ q: '_' })).toEqual([]);
    expect(await list({ q: '\\' })).toEqual([]);
  });

  it('sorts by price, release date and popularity, breaking ties by id', async () => {
    const at1500 = byId('beta Quest', 'Epsilon 100% Edition', 'Gamma Racer');

    expect(await list({ sort: 'price_asc' })).toEqual(['Alpha Strike', ...at1500, 'Delta Force']);
    expect(await list({ sort: 'price_desc' })).toEqual(['Delta Force', ...at1500, 'Alpha Strike']);
    expect(await list({ sort: 'newest' })).toEqual([
      'Delta Force',
      ...byId('Alpha Strike', 'Epsilon 100% Edition'),
      'beta Quest',
      'Gamma Racer',
    ]);
    expect(await list({ sort: 'popular' })).toEqual([
      ...byId('Alpha Strike', 'Epsilon 100% Edition'),
      'Delta Force',
      ...byId('beta Quest', 'Gamma Racer'),
    ]);
  });

  it('pages through the sorted list and counts every match on each page', async () => {
    const page = (n: number) => ground.readers.catalog.list({ page: n, pageSize: 2 });

    const pages = await Promise.all([1, 2, 3, 4].map(page));

    expect(pages.map((p) => names(p.items))).toEqual([
      ['Alpha Strike', 'beta Quest'],
      ['Delta Force', 'Epsilon 100% Edition'],
      ['Gamma Racer'],
      [],
    ]);
    expect(pages.map((p) => [p.page, p.pageSize, p.total])).toEqual([
      [1, 2, 5],
      [2, 2, 5],
      [3, 2, 5],
      [4, 2, 5],
    ]);
    expect((await ground.readers.catalog.list({ page: 2, pageSize: 2, q: 'force' })).total).toBe(1);
  });

  it('shows listed games in stock on the home page: best sellers, new releases and the deepest discounts', async () => {
    const home = await ground.readers.catalog.home(12);

    expect(names(home.bestSellers)).toEqual([...byId('Alpha Strike', 'Epsilon 100% Edition'), 'Delta Force']);
    expect(names(home.newReleases)).toEqual(['Delta Force', ...byId('Alpha Strike', 'Epsilon 100% Edition')]);
    expect(names(home.deals)).toEqual(['Alpha Strike', 'Delta Force']);
    expect(home.bestSellers[0]).toMatchObject({ categories: expect.any(Array), platform: steam });
    const top = await ground.readers.catalog.home(1);
    expect([top.bestSellers.length, top.newReleases.length, top.deals.length]).toEqual([1, 1, 1]);
  });

  it('lists categories, genres and platforms by name, curated ones included', async () => {
    const reader = ground.readers.catalog;

    expect(await reader.taxonomy('categories')).toEqual([
      { slug: 'action', name: 'Action' },
      { slug: 'indie', name: 'Indie' },
      { slug: 'rpg', name: 'RPG' },
      { slug: 'shooter', name: 'Shooter' },
    ]);
    expect(await reader.taxonomy('genres')).toEqual([{ slug: 'tactical', name: 'Tactical' }]);
    expect(await reader.taxonomy('platforms')).toEqual([
      { slug: 'epic-games', name: 'Epic games' },
      { slug: 'origin', name: 'Origin' },
      { slug: 'steam', name: 'Steam' },
    ]);
  });
});

describe('KyselyCatalogReader on names that differ only in case or accents', () => {
  let ids: Record<string, string>;
  beforeAll(async () => {
    await emptyCatalog();
    ids = await seed([
      entry('banana'),
      entry('APPLE pie'),
      entry('apple'),
      entry('Cherry'),
      entry('Apple'),
      // Elsewhere: where an accented letter sorts depends on the database's collation.
      entry('Éclair Royale', { platform: { slug: 'gog', name: 'GOG' } }),
    ]);
  });

  it('sorts by the lower-cased name, whatever the collation, breaking ties of equal names by id', async () => {
    expect(await list({ platform: 'steam' })).toEqual([
      ...inIdOrder(ids, 'apple', 'Apple'),
      'APPLE pie',
      'banana',
      'Cherry',
    ]);
  });

  it('searches names case-insensitively, accented letters included', async () => {
    expect(await list({ q: 'aPPle' })).toEqual([...inIdOrder(ids, 'apple', 'Apple'), 'APPLE pie']);
    // Needs a UTF-8 ctype (the template database takes the server's), as PostgreSQL images have.
    expect(await list({ q: 'éCLAIR' })).toEqual(['Éclair Royale']);
    expect(await list({ q: 'eclair' })).toEqual([]);
  });
});

describe('the catalogue read use cases over the reader and the Redis cache', () => {
  let ids: Record<string, string>;
  beforeEach(async () => {
    ids = await seedShop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });
  const deps = () => ({ catalog: ground.readers.catalog, cache: ground.cache });

  it('answers a game by id and by slug, with its taxonomy, as a JSON-safe view', async () => {
    const id = ids['Alpha Strike']!;
    const stored = (await ground.readers.catalog.findById(id))!;

    const byId = await getGame(deps(), id);
    const bySlug = await getGame(deps(), byId.slug);

    expect(byId).toEqual({
      id,
      slug: expect.stringMatching(/^alpha-strike-i\d+$/),
      name: 'Alpha Strike',
      priceCents: 500,
      currency: 'EUR',
      inStock: true,
      delisted: false,
      platform: 'Steam',
      platformSlug: 'steam',
      region: 'GLOBAL',
      g2aProductId: expect.any(String),
      thumbnail: null,
      coverImage: null,
      description: null,
      releaseDate: '2024-05-01',
      categories: [
        { slug: 'action', name: 'Action' },
        { slug: 'indie', name: 'Indie' },
      ],
      genres: [],
      updatedAt: stored.updatedAt.toISOString(),
    });
    expect(bySlug).toEqual(byId);
    expect(await getGame(deps(), id.toUpperCase())).toEqual(byId);
  });

  it('answers a delisted game as delisted and out of stock', async () => {
    expect(await getGame(deps(), ids['Zeta Gone']!)).toMatchObject({ delisted: true, inStock: false });
  });

  it('serves the second read from the cache', async () => {
    const first = await getGame(deps(), ids['Delta Force']!);
    const loads = vi.spyOn(ground.readers.catalog, 'findById');

    expect(await getGame(deps(), ids['Delta Force']!)).toEqual(first);
    expect(loads).not.toHaveBeenCalled();
  });

  it('refuses an unknown slug with GAME_NOT_FOUND and caches nothing', async () => {
    await expectDomainError(getGame(deps(), 'later-game-i99'), 'GAME_NOT_FOUND');

    await seed([{ ...entry('Later Game'), slug: 'later-game-i99' }]);
    expect(await getGame(deps(), 'later-game-i99')).toMatchObject({ name: 'Later Game' });
  });

  it('refuses an unknown id with GAME_NOT_FOUND and caches nothing', async () => {
    const id = randomUUID();

    await expectDomainError(getGame(deps(), id), 'GAME_NOT_FOUND');

    // A game that comes to hold this very id afterwards.
    const later = await seed([entry('Later')]);
    await ground.db.updateTable('games').set({ id }).where('id', '=', later['Later']!).execute();
    expect(await getGame(deps(), id)).toMatchObject({ id, name: 'Later' });
  });

  it('searches with the query trimmed', async () => {
    expect(names((await listGames(deps(), { page: 1, pageSize: 50, q: '  quest  ' })).items)).toEqual([
      'beta Quest',
    ]);
  });

  it('serves an equal query from the cache until the catalogue family is invalidated', async () => {
    const query = { page: 1, pageSize: 50, q: 'force' };
    const first = await listGames(deps(), query);
    const loads = vi.spyOn(ground.readers.catalog, 'list');

    await seed([entry('Force Majeure')]);
    const again = await listGames(deps(), { ...query, q: ' force ' });

    expect(again).toEqual(first);
    expect(loads).not.toHaveBeenCalled();
    await ground.cache.invalidate({ families: ['catalog'] });
    expect(names((await listGames(deps(), query)).items)).toEqual(['Delta Force', 'Force Majeure']);
  });

  it('limits each home section to twelve games and caches the page', async () => {
    await seed(
      Array.from({ length: 12 }, (_, i) =>
        entry(`Filler ${i}`, { releaseDate: '2020-01-01', retailPriceCents: 2000 }),
      ),
    );

    const home = await getHome(deps());
    const loads = vi.spyOn(ground.readers.catalog, 'home');

    expect([home.bestSellers.length, home.newReleases.length, home.deals.length]).toEqual([12, 12, 12]);
    expect(await getHome(deps())).toEqual(home);
    expect(loads).not.toHaveBeenCalled();
  });

  it('lists the taxonomy from its cache key until that key is invalidated', async () => {
    expect(await listTaxonomy(deps(), 'genres')).toEqual([{ slug: 'tactical', name: 'Tactical' }]);

    await curate(ids['Alpha Strike']!, { genres: [{ slug: 'arcade', name: 'Arcade' }] });

    expect(await listTaxonomy(deps(), 'genres')).toEqual([{ slug: 'tactical', name: 'Tactical' }]);
    await ground.cache.invalidate({ keys: ['taxonomy:genres'] });
    expect(await listTaxonomy(deps(), 'genres')).toEqual([
      { slug: 'arcade', name: 'Arcade' },
      { slug: 'tactical', name: 'Tactical' },
    ]);
  });
});
