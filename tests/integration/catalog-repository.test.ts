import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../src/adapters/postgres/db.js';
import { KyselyCatalogRepository } from '../../src/adapters/postgres/kysely-catalog-repository.js';
import type { CatalogEntry } from '../../src/ports/catalog.js';
import { createTestDatabase } from '../support/services.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
let db: Db;
const RUN = '00000000-0000-4000-8000-000000000001';

beforeAll(async () => {
  database = await createTestDatabase();
  db = createDb(database.url, { max: 2 });
});
afterAll(async () => {
  await db?.destroy();
  await database?.drop();
});

const entry = (
  id: string,
  categories: CatalogEntry['categories'],
  overrides: Partial<CatalogEntry> = {},
): CatalogEntry => ({
  g2aProductId: id,
  slug: `game-i${id}`,
  name: `Game ${id}`,
  description: null,
  platform: { slug: 'steam', name: 'Steam' },
  region: 'GLOBAL',
  thumbnail: null,
  coverImage: null,
  releaseDate: null,
  costCents: 1000,
  priceCents: 1020,
  retailPriceCents: null,
  qty: 3,
  availableToBuy: true,
  g2aUpdatedAt: null,
  categories,
  ...overrides,
});

/** Each call in its own transaction, as the sync commits pages. */
const upsert = (entries: CatalogEntry[]) =>
  db.transaction().execute((tx) => new KyselyCatalogRepository(tx).upsertEntries(RUN, entries));

describe('catalogue upserts in PostgreSQL', () => {
  it('reports a new game as changed and the same page again as unchanged', async () => {
    const first = await upsert([entry('1', [{ g2aId: 10, slug: 'action', name: 'Action' }])]);
    expect(first.changedGameIds).toHaveLength(1);
    expect(first.taxonomyChanged).toBe(true);
    const again = await upsert([entry('1', [{ g2aId: 10, slug: 'action', name: 'Action' }])]);
    expect(again).toEqual({ changedGameIds: [], repricedGameIds: [], taxonomyChanged: false });
  });

  it('keeps syncing when G2A renames a category it already sent', async () => {
    const renamed = await upsert([entry('1', [{ g2aId: 10, slug: 'action-games', name: 'Action Games' }])]);
    expect(renamed).toEqual({ changedGameIds: [], repricedGameIds: [], taxonomyChanged: false });
    const categories = await db.selectFrom('categories').select(['slug', 'g2a_category_id']).execute();
    expect(categories).toEqual([{ slug: 'action', g2a_category_id: 10 }]);
  });

  it('links two G2A categories whose names slug alike to one category', async () => {
    const changes = await upsert([
      entry('2', [{ g2aId: 20, slug: 'rpg', name: 'RPG' }]),
      entry('3', [{ g2aId: 21, slug: 'rpg', name: 'Rpg' }]),
    ]);
    expect(changes.changedGameIds).toHaveLength(2);
    const rpg = await db.selectFrom('categories').select('id').where('slug', '=', 'rpg').execute();
    expect(rpg).toHaveLength(1);
    const links = await db
      .selectFrom('game_categories')
      .select('category_id')
      .where('category_id', '=', rpg[0]!.id)
      .execute();
    expect(links).toHaveLength(2);
  });

  it('adopts a curated category of the same slug, and a curated link does not count as a change', async () => {
    const curated = await db
      .insertInto('categories')
      .values({ slug: 'indie', name: 'Indie' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const game = await db
      .selectFrom('games')
      .select('id')
      .where('g2a_product_id', '=', '1')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('game_categories')
      .values({ game_id: game.id, category_id: curated.id, source: 'shop' })
      .execute();

    const withIndie = [
      { g2aId: 10, slug: 'action', name: 'Action' },
      { g2aId: 30, slug: 'indie', name: 'Indie' },
    ];
    await upsert([entry('1', withIndie)]);
    expect(
      await db
        .selectFrom('categories')
        .select('g2a_category_id')
        .where('slug', '=', 'indie')
        .executeTakeFirstOrThrow(),
    ).toEqual({
      g2a_category_id: 30,
    });
    const again = await upsert([entry('1', withIndie)]);
    expect(again.changedGameIds).toEqual([]);
  });

  it('reports a price change as repriced and delists what a run did not see', async () => {
    const repriced = await upsert([
      entry('2', [{ g2aId: 20, slug: 'rpg', name: 'RPG' }], { costCents: 2000, priceCents: 2040 }),
    ]);
    expect(repriced.repricedGameIds).toHaveLength(1);
    const delisted = await db.transaction().execute(async (tx) => {
      const repository = new KyselyCatalogRepository(tx);
      const unseen = await repository.unseenListed('00000000-0000-4000-8000-000000000002', 100);
      return repository.delist(unseen.map((game) => game.id));
    });
    expect(delisted).toHaveLength(3);
  });
});

describe("catalogue upserts and the shop's own curation", () => {
  const gameOf = async (productId: string) =>
    (
      await db
        .selectFrom('games')
        .select('id')
        .where('g2a_product_id', '=', productId)
        .executeTakeFirstOrThrow()
    ).id;
  /** The game's category links, by slug and source. */
  const categoryLinks = (gameId: string) =>
    db
      .selectFrom('game_categories as l')
      .innerJoin('categories as c', 'c.id', 'l.category_id')
      .select(['c.slug', 'l.source'])
      .where('l.game_id', '=', gameId)
      .orderBy('c.slug')
      .execute();
  const curate = async (gameId: string, table: 'categories' | 'genres', slug: string, name: string) => {
    const term = await db.insertInto(table).values({ slug, name }).returning('id').executeTakeFirstOrThrow();
    if (table === 'categories') {
      await db.insertInto('game_categories').values({ game_id: gameId, category_id: term.id }).execute();
    } else {
      await db.insertInto('game_genres').values({ game_id: gameId, genre_id: term.id }).execute();
    }
  };

  it('reports a game unchanged when G2A repeats a category the shop also linked by hand', async () => {
    await upsert([entry('11', [])]);
    const id = await gameOf('11');
    await curate(id, 'categories', 'puzzle', 'Puzzle');

    const first = await upsert([entry('11', [{ g2aId: 40, slug: 'puzzle', name: 'Puzzle' }])]);
    const second = await upsert([entry('11', [{ g2aId: 40, slug: 'puzzle', name: 'Puzzle' }])]);

    expect(first.changedGameIds).toEqual([]);
    expect(second.changedGameIds).toEqual([]);
    expect(await categoryLinks(id)).toEqual([{ slug: 'puzzle', source: 'shop' }]);
  });

  it("keeps the shop's category and genre links when G2A changes a game", async () => {
    await upsert([entry('12', [{ g2aId: 10, slug: 'action', name: 'Action' }])]);
    const id = await gameOf('12');
    await curate(id, 'categories', 'cozy', 'Cozy');
    await curate(id, 'genres', 'casual', 'Casual');

    const changes = await upsert([
      entry('12', [{ g2aId: 20, slug: 'rpg', name: 'RPG' }], { costCents: 1100, priceCents: 1122 }),
    ]);

    expect(changes).toEqual({ changedGameIds: [id], repricedGameIds: [id], taxonomyChanged: false });
    expect(await categoryLinks(id)).toEqual([
      { slug: 'cozy', source: 'shop' },
      { slug: 'rpg', source: 'g2a' },
    ]);
    const genres = await db.selectFrom('game_genres').select('source').where('game_id', '=', id).execute();
    expect(genres).toEqual([{ source: 'shop' }]);
  });

  it('links one game once to two G2A categories that slug alike', async () => {
    const alike = [
      { g2aId: 50, slug: 'strategy', name: 'Strategy' },
      { g2aId: 51, slug: 'strategy', name: 'STRATEGY' },
    ];

    const first = await upsert([entry('13', alike)]);
    const again = await upsert([entry('13', alike)]);

    expect(first.taxonomyChanged).toBe(true);
    expect(again).toEqual({ changedGameIds: [], repricedGameIds: [], taxonomyChanged: false });
    // One category, under one of the two names (which one is not a promise).
    const strategy = await db
      .selectFrom('categories')
      .select('name')
      .where('slug', '=', 'strategy')
      .execute();
    expect(strategy).toEqual([{ name: expect.stringMatching(/^strategy$/i) }]);
    expect(await categoryLinks(await gameOf('13'))).toEqual([{ slug: 'strategy', source: 'g2a' }]);
  });

  it('refuses a slug another product holds, writing nothing of the page', async () => {
    await upsert([entry('14', [])]);

    await expect(upsert([entry('15', []), entry('16', [], { slug: 'game-i14' })])).rejects.toMatchObject({
      code: '23505',
    });
    const written = await db
      .selectFrom('games')
      .select('g2a_product_id')
      .where('g2a_product_id', 'in', ['15', '16'])
      .execute();
    expect(written).toEqual([]);
  });

  it('relists a delisted game that G2A lists again, reporting it changed', async () => {
    await upsert([entry('17', [])]);
    const id = await gameOf('17');
    await db.transaction().execute((tx) => new KyselyCatalogRepository(tx).delist([id]));

    const back = await upsert([entry('17', [])]);

    expect(back).toEqual({ changedGameIds: [id], repricedGameIds: [], taxonomyChanged: false });
    expect(
      await db
        .selectFrom('games')
        .select(['delisted', 'delisted_at'])
        .where('id', '=', id)
        .executeTakeFirst(),
    ).toEqual({ delisted: false, delisted_at: null });
  });
});
