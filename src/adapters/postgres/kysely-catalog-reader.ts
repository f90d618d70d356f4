import { sql, type Kysely } from 'kysely';
import type { CatalogQuery, Game, Page, TaxonomyRef } from '../../domain/game.js';
import type { CatalogReader, HomeSections, TaxonomyKind } from '../../ports/catalog.js';
import type { Database } from './schema.js';

const GAME_COLUMNS = [
  'g.id',
  'g.slug',
  'g.name',
  'g.g2a_product_id',
  'g.cost_cents',
  'g.price_cents',
  'g.currency',
  'g.qty',
  'g.available_to_buy',
  'g.delisted',
  'g.region',
  'g.thumbnail',
  'g.cover_image',
  'g.description',
  'g.release_date',
  'g.updated_at',
  'p.slug as platform_slug',
  'p.name as platform_name',
] as const;

type GameRow = {
  id: string;
  slug: string;
  name: string;
  g2a_product_id: string;
  cost_cents: number;
  price_cents: number;
  currency: string;
  qty: number;
  available_to_buy: boolean;
  delisted: boolean;
  region: string | null;
  thumbnail: string | null;
  cover_image: string | null;
  description: string | null;
  release_date: string | null;
  updated_at: Date;
  platform_slug: string | null;
  platform_name: string | null;
};

const SORTS = {
  price_asc: [sql`g.price_cents ASC`, sql`g.id ASC`],
  price_desc: [sql`g.price_cents DESC`, sql`g.id ASC`],
  name: [sql`lower(g.name) ASC`, sql`g.id ASC`],
  newest: [sql`g.release_date DESC NULLS LAST`, sql`g.id ASC`],
  popular: [sql`g.popularity DESC`, sql`g.id ASC`],
} as const;

export class KyselyCatalogReader implements CatalogReader {
  constructor(private readonly db: Kysely<Database>) {}

  /** One statement: the game, its platform, and its categories and genres aggregated as JSON. */
  async findById(id: string): Promise<Game | null> {
    const row = await this.games()
      .select([taxonomyJson('categories').as('categories'), taxonomyJson('genres').as('genres')])
      .where('g.id', '=', id)
      .executeTakeFirst();
    if (!row) return null;
    return toGame(row as GameRow, row.categories, row.genres);
  }

  async findIdBySlug(slug: string): Promise<string | null> {
    const row = await this.db.selectFrom('games').select('id').where('slug', '=', slug).executeTakeFirst();
    return row?.id ?? null;
  }

  async list(query: CatalogQuery): Promise<Page<Game>> {
    let select = this.games().where('g.delisted', '=', false);
    if (query.q) select = select.where('g.name', 'ilike', `%${escapeLike(query.q)}%`);
    if (query.platform) select = select.where('p.slug', '=', query.platform);
    if (query.region) select = select.where('g.region_slug', '=', query.region);
    if (query.minPriceCents !== undefined) select = select.where('g.price_cents', '>=', query.minPriceCents);
    if (query.maxPriceCents !== undefined) select = select.where('g.price_cents', '<=', query.maxPriceCents);
    if (query.inStock === true) select = select.where('g.qty', '>', 0).where('g.available_to_buy', '=', true);
    if (query.inStock === false) {
      select = select.where((eb) => eb.or([eb('g.qty', '<=', 0), eb('g.available_to_buy', '=', false)]));
    }
    if (query.category) select = select.where(linkedTo('categories', query.category));
    if (query.genre) select = select.where(linkedTo('genres', query.genre));
    const [first, second] = SORTS[query.sort ?? 'name'];
    const rows = await select
      .select(sql<number>`count(*) OVER ()`.as('total'))
      .orderBy(first)
      .orderBy(second)
      .limit(query.pageSize)
      .offset((query.page - 1) * query.pageSize)
      .execute();
    let total = rows[0]?.total ?? 0;
    if (rows.length === 0 && query.page > 1) {
      const counted = await select
        .clearSelect()
        .select(sql<number>`count(*)`.as('n'))
        .executeTakeFirst();
      total = counted?.n ?? 0;
    }
    return {
      items: await this.withTaxonomy(rows as unknown as GameRow[]),
      page: query.page,
      pageSize: query.pageSize,
      total: Number(total),
    };
  }

  async home(limit: number): Promise<HomeSections> {
    const listed = () =>
      this.games()
        .where('g.delisted', '=', false)
        .where('g.qty', '>', 0)
        .where('g.available_to_buy', '=', true);
    const [bestSellers, newReleases, deals] = await Promise.all([
      listed().orderBy('g.popularity', 'desc').orderBy('g.id').limit(limit).execute(),
      listed()
        .where('g.release_date', 'is not', null)
        .orderBy('g.release_date', 'desc')
        .orderBy('g.id')
        .limit(limit)
        .execute(),
      // The deepest discount against G2A's own retail price.
      listed()
        .where('g.retail_price_cents', '>', sql<number>`g.price_cents`)
        .orderBy(sql`(g.retail_price_cents - g.price_cents)::float / g.retail_price_cents`, 'desc')
        .orderBy('g.id')
        .limit(limit)
        .execute(),
    ]);
    const all = await this.withTaxonomy([...bestSellers, ...newReleases, ...deals] as GameRow[]);
    const byId = new Map(all.map((g) => [g.id, g]));
    const pick = (rows: { id: string }[]) => rows.map((r) => byId.get(r.id)!);
    return { bestSellers: pick(bestSellers), newReleases: pick(newReleases), deals: pick(deals) };
  }

  async taxonomy(kind: TaxonomyKind): Promise<TaxonomyRef[]> {
    return this.db.selectFrom(kind).select(['slug', 'name']).orderBy('name').orderBy('slug').execute();
  }

  private games() {
    return this.db
      .selectFrom('games as g')
      .leftJoin('platforms as p', 'p.id', 'g.platform_id')
      .select(GAME_COLUMNS);
  }

  /** The categories and genres of each game, by name, in one statement. */
  private async withTaxonomy(rows: GameRow[]): Promise<Game[]> {
    const ids = [...new Set(rows.map((r) => r.id))];
    if (ids.length === 0) return [];
    const found = await sql<{ kind: TaxonomyLink; game_id: string; slug: string; name: string }>`
      SELECT 'categories' AS kind, l.game_id, t.slug, t.name
      FROM game_categories l JOIN categories t ON t.id = l.category_id
      WHERE l.game_id = ANY(${sql.val(ids)}::uuid[])
      UNION ALL
      SELECT 'genres' AS kind, l.game_id, t.slug, t.name
      FROM game_genres l JOIN genres t ON t.id = l.genre_id
      WHERE l.game_id = ANY(${sql.val(ids)}::uuid[])
      ORDER BY name`.execute(this.db);
    const byGame: Record<TaxonomyLink, Map<string, TaxonomyRef[]>> = {
      categories: new Map(),
      genres: new Map(),
    };
    for (const row of found.rows) {
      const refs = byGame[row.kind].get(row.game_id) ?? [];
      refs.push({ slug: row.slug, name: row.name });
      byGame[row.kind].set(row.game_id, refs);
    }
    return rows.map((row) =>
      toGame(row, byGame.categories.get(row.id) ?? [], byGame.genres.get(row.id) ?? []),
    );
  }
}

function toGame(row: GameRow, categories: TaxonomyRef[], genres: TaxonomyRef[]): Game {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    g2aProductId: row.g2a_product_id,
    costCents: row.cost_cents,
    priceCents: row.price_cents,
    currency: row.currency,
    qty: row.qty,
    availableToBuy: row.available_to_buy,
    delisted: row.delisted,
    platform: row.platform_slug
      ? { slug: row.platform_slug, name: row.platform_name ?? row.platform_slug }
      : null,
    region: row.region,
    thumbnail: row.thumbnail,
    coverImage: row.cover_image,
    description: row.description,
    releaseDate: row.release_date,
    categories,
    genres,
    updatedAt: row.updated_at,
  };
}

/** A game's categories (or genres) as a JSON array of `{slug, name}`, by name; `[]` when it has none. */
function taxonomyJson(kind: TaxonomyLink) {
  const { link, column } = TAXONOMY_LINKS[kind];
  return sql<TaxonomyRef[]>`COALESCE((
    SELECT json_agg(json_build_object('slug', t.slug, 'name', t.name) ORDER BY t.name)
    FROM ${sql.table(link)} l JOIN ${sql.table(kind)} t ON t.id = l.${sql.ref(column)}
    WHERE l.game_id = g.id), '[]'::json)`;
}

/** The game has a category (or genre) of this slug, curated or from G2A. */
type TaxonomyLink = 'categories' | 'genres';

const TAXONOMY_LINKS = {
  categories: { link: 'game_categories', column: 'category_id' },
  genres: { link: 'game_genres', column: 'genre_id' },
} as const;

function linkedTo(kind: TaxonomyLink, slug: string) {
  const { link, column } = TAXONOMY_LINKS[kind];
  return sql<boolean>`EXISTS (
    SELECT 1 FROM ${sql.table(link)} l JOIN ${sql.table(kind)} t ON t.id = l.${sql.ref(column)}
    WHERE l.game_id = g.id AND t.slug = ${slug})`;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
