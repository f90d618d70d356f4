export interface TaxonomyRef {
  slug: string;
  name: string;
}

export interface Game {
  id: string;
  slug: string;
  name: string;
  g2aProductId: string;
  costCents: number;
  priceCents: number;
  currency: string;
  qty: number;
  availableToBuy: boolean;
  delisted: boolean;
  platform: TaxonomyRef | null;
  region: string | null;
  thumbnail: string | null;
  coverImage: string | null;
  description: string | null;
  releaseDate: string | null;
  categories: TaxonomyRef[];
  genres: TaxonomyRef[];
  updatedAt: Date;
}

/** In stock = G2A has units (`qty > 0`), does not forbid buying them, and the shop still lists the game. */
export function isInStock(game: Pick<Game, 'qty' | 'availableToBuy' | 'delisted'>): boolean {
  return game.qty > 0 && game.availableToBuy && !game.delisted;
}

export const SLUG_MAX_LENGTH = 120;

/** Lower-case ASCII words joined by dashes: the form of every slug in the shop. */
export function slugify(text: string, maxLength = SLUG_MAX_LENGTH): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, maxLength)
    .replace(/-+$/, '');
}

/**
 * The shop slug of a G2A product: G2A's own slug (`/star-wars-…-i10000068865001`) or else the name, always
 * ending in `-i{product id}` — unique however long the text, since a long one is cut before the id, not after.
 */
export function gameSlug(product: { id: string; name: string; slug?: string }): string {
  const tail = `-i${slugify(product.id, 40)}`;
  const text = product.slug?.split('/').filter(Boolean).pop() || product.name;
  const base = slugify(text, Number.MAX_SAFE_INTEGER);
  const withoutTail = base.endsWith(tail) ? base.slice(0, -tail.length) : base;
  return `${slugify(withoutTail, SLUG_MAX_LENGTH - tail.length) || 'game'}${tail}`;
}

export type CatalogSort = 'price_asc' | 'price_desc' | 'name' | 'newest' | 'popular';

export interface CatalogQuery {
  page: number;
  pageSize: number;
  q?: string;
  platform?: string;
  region?: string;
  category?: string;
  genre?: string;
  minPriceCents?: number;
  maxPriceCents?: number;
  inStock?: boolean;
  sort?: CatalogSort;
}

export interface Page<T> {
  items: T[];
  page: number;
  pageSize: number;
  total: number;
}
