import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryCache } from '../../src/adapters/memory/in-memory-cache.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import type { GameView } from '../../src/application/catalog-views.js';
import { getGame as getGameJson } from '../../src/application/get-game.js';
import type { Page } from '../../src/domain/game.js';
import { getHome as getHomeJson, type HomeView } from '../../src/application/get-home.js';
import { listGames as listGamesJson } from '../../src/application/list-games.js';
import { listTaxonomy } from '../../src/application/list-taxonomy.js';
import { DomainError } from '../../src/domain/errors.js';
import { slugify, type CatalogQuery } from '../../src/domain/game.js';
import type { CatalogEntry } from '../../src/ports/catalog.js';

// The read use cases answer JSON text (served as is); these read it back.
const getGame = async (...args: Parameters<typeof getGameJson>) =>
  JSON.parse(await getGameJson(...args)) as GameView;
const listGames = async (...args: Parameters<typeof listGamesJson>) =>
  JSON.parse(await listGamesJson(...args)) as Page<GameView>;
const getHome = async (...args: Parameters<typeof getHomeJson>) =>
  JSON.parse(await getHomeJson(...args)) as HomeView;

const steam = { slug: 'steam', name: 'Steam' };
const action = { g2aId: 1, slug: 'action', name: 'Action' };

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

/** Stores games as a catalogue sync would; `delisted` ones are then left out of a second run. */
async function seed(uow: InMemoryUnitOfWork, entries: CatalogEntry[], delisted: CatalogEntry[] = []) {
  await uow.run((scope) => scope.catalog.upsertEntries(randomUUID(), [...entries, ...delisted]));
  if (delisted.length > 0) {
    const runId = randomUUID();
    await uow.run(async (scope) => {
      await scope.catalog.upsertEntries(runId, entries);
      const unseen = await scope.catalog.unseenListed(runId, 10_000);
      await scope.catalog.delist(unseen.map((game) => game.id));
    });
  }
  const ids: Record<string, string> = {};
  for (const { name, slug } of [...entries, ...delisted])
    ids[name] = (await uow.catalogReader.findIdBySlug(slug))!;
  return ids;
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
async function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const cache = new InMemoryCache({ now: () => clock.now().getTime() });
  const uow = new InMemoryUnitOfWork({ clock, cache });
  const ids = await seed(
    uow,
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
  const catalog = uow.repositories.catalog;
  await catalog.curate(ids['Alpha Strike']!, {
    popularity: 80,
    categories: [{ slug: 'indie', name: 'Indie' }],
  });
  await catalog.curate(ids['Delta Force']!, {
    popularity: 50,
    genres: [{ slug: 'tactical', name: 'Tactical' }],
  });
  await catalog.curate(ids['Epsilon 100% Edition']!, { popularity: 80 });
  await catalog.curate(ids['Zeta Gone']!, { popularity: 99 });
  const deps = { catalog: uow.catalogReader, cache };
  const names = (games: { name: string }[]) => games.map((game) => game.name);
  /** Names of the listed games for `query` (first page of 50 unless it says otherwise). */
  const list = async (query: Partial<CatalogQuery>) =>
    names((await listGames(deps, { page: 1, pageSize: 50, ...query })).items);
  /** Names in id order, the tie-break of every sort. */
  const byId = (...tied: string[]) => [...tied].sort((a, b) => (ids[a]! < ids[b]! ? -1 : 1));
  return { clock, cache, uow, ids, deps, list, names, byId };
}

async function refusal(promise: Promise<unknown>): Promise<DomainError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('getGame', () => {
  it('answers a game by id and by slug, with its taxonomy, as a JSON-safe view', async () => {
    const { deps, ids } = await setup();
    const id = ids['Alpha Strike']!;

    const byId = await getGame(deps, id);
    const bySlug = await getGame(deps, byId.slug);

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
      updatedAt: '2026-03-01T12:00:00.000Z',
    });
    expect(bySlug).toEqual(byId);
    expect(await getGame(deps, id.toUpperCase())).toEqual(byId);
  });

  it('answers a delisted game as delisted and out of stock', async () => {
    const { deps, ids } = await setup();

    expect(await getGame(deps, ids['Zeta Gone']!)).toMatchObject({ delisted: true, inStock: false });
  });

  it('serves the second read from the cache', async () => {
    const { deps, ids, cache } = await setup();
    const first = await getGame(deps, ids['Delta Force']!);
    const hits = cache.hits;

    expect(await getGame(deps, ids['Delta Force']!)).toEqual(first);
    expect(cache.hits).toBe(hits + 1);
  });

  it('refuses an unknown slug with GAME_NOT_FOUND and caches nothing', async () => {
    const { deps, cache, uow } = await setup();

    const error = await refusal(getGame(deps, 'later-game-i99'));

    expect(error.code).toBe('GAME_NOT_FOUND');
    expect(cache.peek({ family: 'catalog', member: 'slug:later-game-i99' })).toBeUndefined();
    await seed(uow, [{ ...entry('Later Game'), slug: 'later-game-i99' }]);
    expect(await getGame(deps, 'later-game-i99')).toMatchObject({ name: 'Later Game' });
  });

  it('refuses an unknown id with GAME_NOT_FOUND and caches nothing', async () => {
    const { deps, cache } = await setup();
    const id = randomUUID();

    const error = await refusal(getGame(deps, id));

    expect(error.code).toBe('GAME_NOT_FOUND');
    expect(cache.peek({ key: `game:${id}` })).toBeUndefined();
  });
});

describe('listGames', () => {
  it('lists listed games by name, case-insensitively, leaving delisted ones out', async () => {
    const { list } = await setup();

    expect(await list({})).toEqual([
      'Alpha Strike',
      'beta Quest',
      'Delta Force',
      'Epsilon 100% Edition',
      'Gamma Racer',
    ]);
  });

  it('filters by stock: in stock needs units and G2A allowing the purchase', async () => {
    const { list } = await setup();

    expect(await list({ inStock: true })).toEqual(['Alpha Strike', 'Delta Force', 'Epsilon 100% Edition']);
    expect(await list({ inStock: false })).toEqual(['beta Quest', 'Gamma Racer']);
  });

  it('filters by an inclusive price range', async () => {
    const { list } = await setup();

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
    const { list } = await setup();

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
    const { list } = await setup();

    expect(await list({ q: 'QUEST' })).toEqual(['beta Quest']);
    expect(await list({ q: '  quest  ' })).toEqual(['beta Quest']);
    expect(await list({ q: '%' })).toEqual(['Epsilon 100% Edition']);
    expect(await list({ q: 'a_' })).toEqual([]);
  });

  it('sorts by price, release date and popularity, breaking ties by id', async () => {
    const { list, byId } = await setup();
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
    const { deps, names } = await setup();
    const page = (n: number) => listGames(deps, { page: n, pageSize: 2 });

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
  });

  it('serves an equal query from the cache until the catalogue family is invalidated', async () => {
    const { deps, cache, uow, names } = await setup();
    const query = { page: 1, pageSize: 50, q: 'force' };
    const first = await listGames(deps, query);
    const hits = cache.hits;

    await seed(uow, [entry('Force Majeure')]);
    const again = await listGames(deps, { ...query, q: ' force ' });

    expect(again).toEqual(first);
    expect(cache.hits).toBe(hits + 1);
    await cache.invalidate({ families: ['catalog'] });
    expect(names((await listGames(deps, query)).items)).toEqual(['Delta Force', 'Force Majeure']);
  });
});

describe('getHome', () => {
  it('shows listed games in stock: best sellers, new releases and the deepest discounts', async () => {
    const { deps, names, byId } = await setup();

    const home = await getHome(deps);

    expect(names(home.bestSellers)).toEqual([...byId('Alpha Strike', 'Epsilon 100% Edition'), 'Delta Force']);
    expect(names(home.newReleases)).toEqual(['Delta Force', ...byId('Alpha Strike', 'Epsilon 100% Edition')]);
    expect(names(home.deals)).toEqual(['Alpha Strike', 'Delta Force']);
  });

  it('limits each section to twelve games and caches the page', async () => {
    const { deps, uow, cache } = await setup();
    await seed(
      uow,
      Array.from({ length: 12 }, (_, i) =>
        entry(`Filler ${i}`, { releaseDate: '2020-01-01', retailPriceCents: 2000 }),
      ),
    );

    const home = await getHome(deps);
    const hits = cache.hits;

    expect([home.bestSellers.length, home.newReleases.length, home.deals.length]).toEqual([12, 12, 12]);
    expect(await getHome(deps)).toEqual(home);
    expect(cache.hits).toBe(hits + 1);
  });
});

describe('listTaxonomy', () => {
  it('lists categories, genres and platforms by name, curated ones included', async () => {
    const { deps } = await setup();

    expect(await listTaxonomy(deps, 'categories')).toEqual([
      { slug: 'action', name: 'Action' },
      { slug: 'indie', name: 'Indie' },
      { slug: 'rpg', name: 'RPG' },
      { slug: 'shooter', name: 'Shooter' },
    ]);
    expect(await listTaxonomy(deps, 'genres')).toEqual([{ slug: 'tactical', name: 'Tactical' }]);
    expect(await listTaxonomy(deps, 'platforms')).toEqual([
      { slug: 'epic-games', name: 'Epic games' },
      { slug: 'origin', name: 'Origin' },
      { slug: 'steam', name: 'Steam' },
    ]);
  });

  it('serves the list from its cache key until that key is invalidated', async () => {
    const { deps, cache, uow, ids } = await setup();
    await listTaxonomy(deps, 'genres');

    await uow.repositories.catalog.curate(ids['Alpha Strike']!, {
      genres: [{ slug: 'arcade', name: 'Arcade' }],
    });

    expect(await listTaxonomy(deps, 'genres')).toEqual([{ slug: 'tactical', name: 'Tactical' }]);
    await cache.invalidate({ keys: ['taxonomy:genres'] });
    expect(await listTaxonomy(deps, 'genres')).toEqual([
      { slug: 'arcade', name: 'Arcade' },
      { slug: 'tactical', name: 'Tactical' },
    ]);
  });
});
