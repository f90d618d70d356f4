import { randomUUID } from 'node:crypto';
import type { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { slugify } from '../../src/domain/game.js';
import type { CatalogEntry } from '../../src/ports/catalog.js';
import type { TestGame } from './games.js';

let lastProductId = 90_000;

/**
 * The games of an in-memory shop, written as catalogue syncs and stock checks write them: listing, stock and
 * delisting all go through `CatalogRepository`.
 */
export class MemoryCatalog {
  private readonly entries = new Map<string, CatalogEntry>();
  private readonly delisted = new Set<string>();

  constructor(private readonly uow: InMemoryUnitOfWork) {}

  /** Lists a game (delisted at once when asked) and answers its id. */
  async add(game: TestGame = {}): Promise<string> {
    lastProductId += 1;
    const name = game.name ?? `Test Game ${lastProductId}`;
    const priceCents = game.priceCents ?? 1020;
    const entry: CatalogEntry = {
      g2aProductId: String(lastProductId),
      slug: `${slugify(name)}-i${lastProductId}`,
      name,
      description: null,
      platform: null,
      region: null,
      thumbnail: null,
      coverImage: null,
      releaseDate: null,
      costCents: Math.floor((priceCents * 100) / 102),
      priceCents,
      retailPriceCents: null,
      qty: game.qty ?? 5,
      availableToBuy: game.availableToBuy ?? true,
      g2aUpdatedAt: null,
      categories: [],
    };
    await this.uow.run((scope) => scope.catalog.upsertEntries(randomUUID(), [entry]));
    const id = (await this.uow.catalogReader.findIdBySlug(entry.slug))!;
    this.entries.set(id, entry);
    if (game.delisted) await this.delist(id);
    return id;
  }

  /** A stock check that finds new stock or a new price for the game. */
  async restock(
    gameId: string,
    stock: Partial<{ qty: number; availableToBuy: boolean; priceCents: number }>,
  ): Promise<void> {
    const entry = this.entryOf(gameId);
    Object.assign(entry, stock);
    if (stock.priceCents !== undefined) entry.costCents = Math.floor((stock.priceCents * 100) / 102);
    await this.uow.run((scope) => scope.catalog.applyStock([entry]));
  }

  /** A catalogue run that sees every listed game but this one, which it therefore delists. */
  async delist(gameId: string): Promise<void> {
    this.entryOf(gameId);
    this.delisted.add(gameId);
    const runId = randomUUID();
    const listed = [...this.entries].filter(([id]) => !this.delisted.has(id)).map(([, entry]) => entry);
    await this.uow.run(async (scope) => {
      await scope.catalog.upsertEntries(runId, listed);
      const unseen = await scope.catalog.unseenListed(runId, 10_000);
      await scope.catalog.delist(unseen.map((game) => game.id));
    });
  }

  private entryOf(gameId: string): CatalogEntry {
    const entry = this.entries.get(gameId);
    if (!entry) throw new Error(`game ${gameId} was not added through this catalogue`);
    return entry;
  }
}
