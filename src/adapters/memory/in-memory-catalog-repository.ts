import { randomUUID } from 'node:crypto';
import type { TaxonomyRef } from '../../domain/game.js';
import type { CatalogChanges, CatalogEntry, CatalogRepository, StockEntry } from '../../ports/catalog.js';
import type { Clock } from '../../ports/clock.js';
import {
  constraintViolation,
  type GameRow,
  type GameTaxonomyLink,
  type MemoryTables,
  type TableAccess,
  type TaxonomyRow,
} from './memory-tables.js';

/** What the shop's own curation sets on a game; categories and genres are found by slug or created. */
export interface GameCuration {
  popularity?: number;
  categories?: TaxonomyRef[];
  genres?: TaxonomyRef[];
}

const noChanges = (): CatalogChanges => ({ changedGameIds: [], repricedGameIds: [], taxonomyChanged: false });

/** As the Kysely repository derives `region_slug`: ASCII words only, no accent folding. */
function regionSlug(region: string): string {
  return region
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
}

function sameMembers(a: string[], b: string[]): boolean {
  const setA = new Set(a);
  const setB = new Set(b);
  return setA.size === setB.size && [...setA].every((id) => setB.has(id));
}

function findBySlug<T extends TaxonomyRow>(rows: Map<string, T>, slug: string): T | undefined {
  for (const row of rows.values()) if (row.slug === slug) return row;
  return undefined;
}

function gamesByProduct(tables: MemoryTables): Map<string, GameRow> {
  return new Map([...tables.games.values()].map((game) => [game.g2aProductId, game]));
}

/**
 * The `KyselyCatalogRepository` contract over the in-memory tables. Where that adapter's SQL and its documented
 * intent part (a category a curator also linked; a G2A category renamed; G2A categories that slug alike), this
 * one follows the intent: categories are adopted, never duplicated, and a game is changed only when what
 * shoppers see of it changes.
 */
export class InMemoryCatalogRepository implements CatalogRepository {
  constructor(
    private readonly access: TableAccess,
    private readonly clock: Clock,
  ) {}

  async upsertEntries(runId: string, entries: CatalogEntry[]): Promise<CatalogChanges> {
    const changes = noChanges();
    if (entries.length === 0) return changes;
    const platformIds = await this.ensurePlatforms(entries, changes);
    const categoryIds = await this.ensureCategories(entries, changes);
    return this.access.write((tables) => {
      const now = this.clock.now();
      const existing = gamesByProduct(tables);
      const toWrite: { entry: CatalogEntry; old: GameRow | undefined; categoryIds: string[] }[] = [];
      const unchanged: GameRow[] = [];
      for (const entry of entries) {
        const old = existing.get(entry.g2aProductId);
        const platformId = entry.platform ? (platformIds.get(entry.platform.slug) ?? null) : null;
        const linked = [...new Set(entry.categories.map((c) => categoryIds.get(c.g2aId)!))];
        if (!old) {
          toWrite.push({ entry, old, categoryIds: linked });
          continue;
        }
        const same =
          old.slug === entry.slug &&
          old.name === entry.name &&
          old.description === entry.description &&
          old.platformId === platformId &&
          old.region === entry.region &&
          old.thumbnail === entry.thumbnail &&
          old.coverImage === entry.coverImage &&
          old.releaseDate === entry.releaseDate &&
          old.costCents === entry.costCents &&
          old.priceCents === entry.priceCents &&
          old.retailPriceCents === entry.retailPriceCents &&
          old.qty === entry.qty &&
          old.availableToBuy === entry.availableToBuy &&
          !old.delisted &&
          this.sameCategoryLinks(tables, old.id, linked);
        if (same) unchanged.push(old);
        else toWrite.push({ entry, old, categoryIds: linked });
        if (old.priceCents !== entry.priceCents) changes.repricedGameIds.push(old.id);
      }
      this.checkWritable(tables, toWrite);

      for (const game of unchanged) {
        game.lastSeenRunId = runId;
        game.lastSyncedAt = now;
      }
      for (const { entry, old, categoryIds: linked } of toWrite) {
        const game: GameRow = {
          id: old?.id ?? randomUUID(),
          g2aProductId: entry.g2aProductId,
          slug: entry.slug,
          name: entry.name,
          description: entry.description,
          platformId: entry.platform ? (platformIds.get(entry.platform.slug) ?? null) : null,
          region: entry.region,
          regionSlug: entry.region ? regionSlug(entry.region) : null,
          thumbnail: entry.thumbnail,
          coverImage: entry.coverImage,
          releaseDate: entry.releaseDate,
          costCents: entry.costCents,
          priceCents: entry.priceCents,
          retailPriceCents: entry.retailPriceCents,
          currency: old?.currency ?? 'EUR',
          qty: entry.qty,
          availableToBuy: entry.availableToBuy,
          delisted: false,
          delistedAt: null,
          popularity: old?.popularity ?? 0,
          g2aUpdatedAt: entry.g2aUpdatedAt && new Date(entry.g2aUpdatedAt),
          lastSeenRunId: runId,
          lastSyncedAt: now,
          createdAt: old?.createdAt ?? now,
          updatedAt: now,
        };
        tables.games.set(game.id, game);
        changes.changedGameIds.push(game.id);
        // The G2A-sourced links are replaced; the shop's own links stay, and a G2A link never doubles one.
        tables.gameCategories = tables.gameCategories.filter(
          (l) => l.gameId !== game.id || l.source !== 'g2a',
        );
        for (const categoryId of linked) {
          if (!tables.gameCategories.some((l) => l.gameId === game.id && l.termId === categoryId)) {
            tables.gameCategories.push({ gameId: game.id, termId: categoryId, source: 'g2a' });
          }
        }
      }
      return changes;
    });
  }

  unseenListed(runId: string, limit: number): Promise<{ id: string; g2aProductId: string }[]> {
    return this.access.read((tables) =>
      [...tables.games.values()]
        .filter((game) => !game.delisted && game.lastSeenRunId !== runId)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, limit)
        .map((game) => ({ id: game.id, g2aProductId: game.g2aProductId })),
    );
  }

  markSeen(runId: string, gameIds: string[]): Promise<void> {
    return this.access.write((tables) => {
      for (const id of gameIds) {
        const game = tables.games.get(id);
        if (game) game.lastSeenRunId = runId;
      }
    });
  }

  delist(gameIds: string[]): Promise<string[]> {
    return this.access.write((tables) => {
      const now = this.clock.now();
      const delisted: string[] = [];
      for (const id of gameIds) {
        const game = tables.games.get(id);
        if (!game || game.delisted) continue;
        game.delisted = true;
        game.delistedAt = now;
        game.updatedAt = now;
        delisted.push(game.id);
      }
      return delisted;
    });
  }

  applyStock(entries: StockEntry[]): Promise<CatalogChanges> {
    return this.access.write((tables) => {
      const changes = noChanges();
      const now = this.clock.now();
      const existing = gamesByProduct(tables);
      for (const entry of entries) {
        const game = existing.get(entry.g2aProductId);
        if (!game) continue;
        const same =
          game.qty === entry.qty &&
          game.availableToBuy === entry.availableToBuy &&
          game.costCents === entry.costCents &&
          game.priceCents === entry.priceCents;
        if (same) continue;
        if (game.priceCents !== entry.priceCents) changes.repricedGameIds.push(game.id);
        Object.assign(game, {
          qty: entry.qty,
          availableToBuy: entry.availableToBuy,
          costCents: entry.costCents,
          priceCents: entry.priceCents,
          lastSyncedAt: now,
          updatedAt: now,
        });
        changes.changedGameIds.push(game.id);
      }
      return changes;
    });
  }

  /**
   * Sets what the shop curates itself (popularity, its own category and genre links), as an operator would in
   * the database; these survive every sync.
   */
  curate(gameId: string, curation: GameCuration): Promise<void> {
    return this.access.write((tables) => {
      const game = tables.games.get(gameId);
      if (!game) throw constraintViolation('foreign key', 'game_categories_game_id_fkey');
      if (curation.popularity !== undefined) game.popularity = curation.popularity;
      for (const ref of curation.categories ?? []) {
        const category = findBySlug(tables.categories, ref.slug) ?? {
          id: randomUUID(),
          slug: ref.slug,
          name: ref.name,
          g2aCategoryId: null,
        };
        tables.categories.set(category.id, category);
        tables.gameCategories = withShopLink(tables.gameCategories, gameId, category.id);
      }
      for (const ref of curation.genres ?? []) {
        const genre = findBySlug(tables.genres, ref.slug) ?? {
          id: randomUUID(),
          slug: ref.slug,
          name: ref.name,
        };
        tables.genres.set(genre.id, genre);
        tables.gameGenres = withShopLink(tables.gameGenres, gameId, genre.id);
      }
    });
  }

  /** Whether writing `linked` as the game's G2A links would leave its categories as they are. */
  private sameCategoryLinks(tables: MemoryTables, gameId: string, linked: string[]): boolean {
    const links = tables.gameCategories.filter((l) => l.gameId === gameId);
    const curated = new Set(links.filter((l) => l.source === 'shop').map((l) => l.termId));
    return sameMembers(
      links.filter((l) => l.source === 'g2a').map((l) => l.termId),
      linked.filter((id) => !curated.has(id)),
    );
  }

  /** The checks PostgreSQL makes before the upsert writes anything. */
  private checkWritable(
    tables: MemoryTables,
    toWrite: { entry: CatalogEntry; old: GameRow | undefined }[],
  ): void {
    const products = new Set<string>();
    const slugOwners = new Map([...tables.games.values()].map((game) => [game.slug, game.g2aProductId]));
    for (const { entry } of toWrite) {
      if (products.has(entry.g2aProductId)) {
        throw Object.assign(new Error('ON CONFLICT DO UPDATE command cannot affect row a second time'), {
          code: '21000',
        });
      }
      products.add(entry.g2aProductId);
      const owner = slugOwners.get(entry.slug);
      if (owner !== undefined && owner !== entry.g2aProductId)
        throw constraintViolation('unique', 'games_slug_key');
      slugOwners.set(entry.slug, entry.g2aProductId);
    }
  }

  private ensurePlatforms(entries: CatalogEntry[], changes: CatalogChanges): Promise<Map<string, string>> {
    return this.access.write((tables) => {
      const wanted = new Map(
        entries.filter((e) => e.platform).map((e) => [e.platform!.slug, e.platform!.name]),
      );
      const ids = new Map<string, string>();
      for (const [slug, name] of wanted) {
        let platform = findBySlug(tables.platforms, slug);
        if (!platform) {
          platform = { id: randomUUID(), slug, name };
          tables.platforms.set(platform.id, platform);
          changes.taxonomyChanged = true;
        }
        ids.set(slug, platform.id);
      }
      return ids;
    });
  }

  /**
   * A G2A category is found by its G2A id, else adopts the category of the same slug (a curated one, or an
   * earlier G2A category whose name slugs alike), else is created.
   */
  private ensureCategories(entries: CatalogEntry[], changes: CatalogChanges): Promise<Map<number, string>> {
    return this.access.write((tables) => {
      const wanted = new Map(entries.flatMap((e) => e.categories).map((c) => [c.g2aId, c]));
      const ids = new Map<number, string>();
      for (const incoming of wanted.values()) {
        let category =
          [...tables.categories.values()].find((c) => c.g2aCategoryId === incoming.g2aId) ??
          findBySlug(tables.categories, incoming.slug);
        if (!category) {
          category = {
            id: randomUUID(),
            slug: incoming.slug,
            name: incoming.name,
            g2aCategoryId: incoming.g2aId,
          };
          tables.categories.set(category.id, category);
          changes.taxonomyChanged = true;
        }
        category.g2aCategoryId ??= incoming.g2aId;
        ids.set(incoming.g2aId, category.id);
      }
      return ids;
    });
  }
}

function withShopLink(links: GameTaxonomyLink[], gameId: string, termId: string): GameTaxonomyLink[] {
  return [
    ...links.filter((l) => l.gameId !== gameId || l.termId !== termId),
    { gameId, termId, source: 'shop' },
  ];
}
