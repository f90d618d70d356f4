import type { CatalogQuery, CatalogSort, Game, Page, TaxonomyRef } from '../../domain/game.js';
import type { CatalogReader, HomeSections, TaxonomyKind } from '../../ports/catalog.js';
import type { GameRow, GameTaxonomyLink, MemoryTables, TableAccess, TaxonomyRow } from './memory-tables.js';

type Comparator = (a: GameRow, b: GameRow) => number;

/** Code-unit order, as PostgreSQL compares text under the C collation. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const byId: Comparator = (a, b) => compareText(a.id, b.id);

/** The orders of `KyselyCatalogReader`, each ending with the id so pages never overlap. */
const SORTS: Record<CatalogSort, Comparator> = {
  price_asc: (a, b) => a.priceCents - b.priceCents || byId(a, b),
  price_desc: (a, b) => b.priceCents - a.priceCents || byId(a, b),
  name: (a, b) => compareText(a.name.toLowerCase(), b.name.toLowerCase()) || byId(a, b),
  newest: (a, b) => compareReleaseDesc(a.releaseDate, b.releaseDate) || byId(a, b),
  popular: (a, b) => b.popularity - a.popularity || byId(a, b),
};

/** `release_date DESC NULLS LAST`; ISO dates compare as text. */
function compareReleaseDesc(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  return compareText(b, a);
}

const discount = (game: GameRow) => (game.retailPriceCents! - game.priceCents) / game.retailPriceCents!;

function isListedInStock(game: GameRow): boolean {
  return !game.delisted && game.qty > 0 && game.availableToBuy;
}

function termsOf(links: GameTaxonomyLink[], terms: Map<string, TaxonomyRow>, gameId: string): TaxonomyRef[] {
  return links
    .filter((link) => link.gameId === gameId)
    .map((link) => terms.get(link.termId)!)
    .sort((a, b) => compareText(a.name, b.name) || compareText(a.slug, b.slug))
    .map(({ slug, name }) => ({ slug, name }));
}

function hasTerm(
  links: GameTaxonomyLink[],
  terms: Map<string, TaxonomyRow>,
  gameId: string,
  slug: string,
): boolean {
  return links.some((link) => link.gameId === gameId && terms.get(link.termId)?.slug === slug);
}

function toGame(tables: MemoryTables, row: GameRow): Game {
  const platform = row.platformId ? tables.platforms.get(row.platformId) : undefined;
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    g2aProductId: row.g2aProductId,
    costCents: row.costCents,
    priceCents: row.priceCents,
    currency: row.currency,
    qty: row.qty,
    availableToBuy: row.availableToBuy,
    delisted: row.delisted,
    platform: platform ? { slug: platform.slug, name: platform.name } : null,
    region: row.region,
    thumbnail: row.thumbnail,
    coverImage: row.coverImage,
    description: row.description,
    releaseDate: row.releaseDate,
    categories: termsOf(tables.gameCategories, tables.categories, row.id),
    genres: termsOf(tables.gameGenres, tables.genres, row.id),
    updatedAt: new Date(row.updatedAt),
  };
}

/** The `KyselyCatalogReader` contract over the in-memory tables: the same filters, orders and paging. */
export class InMemoryCatalogReader implements CatalogReader {
  constructor(private readonly access: TableAccess) {}

  findById(id: string): Promise<Game | null> {
    return this.access.read((tables) => {
      const row = tables.games.get(id);
      return row ? toGame(tables, row) : null;
    });
  }

  findIdBySlug(slug: string): Promise<string | null> {
    return this.access.read((tables) => {
      for (const row of tables.games.values()) if (row.slug === slug) return row.id;
      return null;
    });
  }

  list(query: CatalogQuery): Promise<Page<Game>> {
    return this.access.read((tables) => {
      const matches = (game: GameRow): boolean => {
        if (game.delisted) return false;
        if (query.q && !game.name.toLowerCase().includes(query.q.toLowerCase())) return false;
        if (query.platform && tables.platforms.get(game.platformId ?? '')?.slug !== query.platform)
          return false;
        if (query.region && game.regionSlug !== query.region) return false;
        if (query.minPriceCents !== undefined && game.priceCents < query.minPriceCents) return false;
        if (query.maxPriceCents !== undefined && game.priceCents > query.maxPriceCents) return false;
        const inStock = game.qty > 0 && game.availableToBuy;
        if (query.inStock !== undefined && inStock !== query.inStock) return false;
        if (query.category && !hasTerm(tables.gameCategories, tables.categories, game.id, query.category)) {
          return false;
        }
        if (query.genre && !hasTerm(tables.gameGenres, tables.genres, game.id, query.genre)) return false;
        return true;
      };
      const matching = [...tables.games.values()].filter(matches).sort(SORTS[query.sort ?? 'name']);
      const start = (query.page - 1) * query.pageSize;
      return {
        items: matching.slice(start, start + query.pageSize).map((row) => toGame(tables, row)),
        page: query.page,
        pageSize: query.pageSize,
        total: matching.length,
      };
    });
  }

  home(limit: number): Promise<HomeSections> {
    return this.access.read((tables) => {
      const listed = [...tables.games.values()].filter(isListedInStock);
      const section = (rows: GameRow[], order: Comparator) =>
        rows
          .sort(order)
          .slice(0, limit)
          .map((row) => toGame(tables, row));
      return {
        bestSellers: section([...listed], SORTS.popular),
        newReleases: section(
          listed.filter((game) => game.releaseDate !== null),
          SORTS.newest,
        ),
        // The deepest discount against G2A's own retail price.
        deals: section(
          listed.filter((game) => game.retailPriceCents !== null && game.retailPriceCents > game.priceCents),
          (a, b) => discount(b) - discount(a) || byId(a, b),
        ),
      };
    });
  }

  taxonomy(kind: TaxonomyKind): Promise<TaxonomyRef[]> {
    return this.access.read((tables) =>
      [...tables[kind].values()]
        .sort((a, b) => compareText(a.name, b.name) || compareText(a.slug, b.slug))
        .map(({ slug, name }) => ({ slug, name })),
    );
  }
}
