import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import type { CatalogEntry } from '../../src/ports/catalog.js';

const entry = (id: string, categories: CatalogEntry['categories'] = []): CatalogEntry => ({
  g2aProductId: id,
  slug: `game-i${id}`,
  name: `Game ${id}`,
  description: null,
  platform: { slug: 'steam', name: 'Steam' },
  region: null,
  thumbnail: null,
  coverImage: null,
  releaseDate: null,
  costCents: 1000,
  priceCents: 1020,
  retailPriceCents: null,
  qty: 1,
  availableToBuy: true,
  g2aUpdatedAt: null,
  categories,
});

const action = { g2aId: 1, slug: 'action', name: 'Action' };

function setup() {
  const uow = new InMemoryUnitOfWork();
  const upsert = (entries: CatalogEntry[]) =>
    uow.run((scope) => scope.catalog.upsertEntries(randomUUID(), entries));
  return { uow, upsert, reader: uow.catalogReader };
}

describe('InMemoryCatalogRepository', () => {
  it('reports a game unchanged when G2A repeats a category the shop also linked by hand', async () => {
    const { uow, upsert, reader } = setup();
    const [id] = (await upsert([entry('1')])).changedGameIds;
    await uow.repositories.catalog.curate(id!, { categories: [{ slug: 'action', name: 'Action' }] });

    const first = await upsert([entry('1', [action])]);
    const second = await upsert([entry('1', [action])]);

    expect(first.changedGameIds).toEqual([]);
    expect(second.changedGameIds).toEqual([]);
    expect((await reader.findById(id!))!.categories).toEqual([{ slug: 'action', name: 'Action' }]);
  });

  it('keeps the category of a G2A id whose name changed, and merges G2A categories that slug alike', async () => {
    const { upsert, reader } = setup();
    await upsert([entry('1', [action])]);

    const renamed = await upsert([entry('1', [{ g2aId: 1, slug: 'action-games', name: 'Action Games' }])]);
    const alike = await upsert([
      entry('2', [
        { g2aId: 7, slug: 'rpg', name: 'RPG' },
        { g2aId: 8, slug: 'rpg', name: 'Rpg' },
      ]),
    ]);

    expect(renamed).toEqual({ changedGameIds: [], repricedGameIds: [], taxonomyChanged: false });
    expect(alike.taxonomyChanged).toBe(true);
    expect(await reader.taxonomy('categories')).toEqual([
      { slug: 'action', name: 'Action' },
      { slug: 'rpg', name: 'RPG' },
    ]);
  });

  it('refuses a slug another product holds, writing nothing of the page', async () => {
    const { upsert, reader } = setup();
    await upsert([entry('1')]);

    await expect(upsert([entry('2'), { ...entry('3'), slug: 'game-i1' }])).rejects.toMatchObject({
      code: '23505',
    });
    expect((await reader.list({ page: 1, pageSize: 10 })).total).toBe(1);
  });
});
