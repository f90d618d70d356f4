import { isInStock, type Game, type TaxonomyRef } from '../domain/game.js';

/** A game as shoppers see it: JSON-safe, so it can be cached as is. */
export interface GameView {
  id: string;
  slug: string;
  name: string;
  priceCents: number;
  currency: string;
  inStock: boolean;
  delisted: boolean;
  platform: string | null;
  platformSlug: string | null;
  region: string | null;
  g2aProductId: string;
  thumbnail: string | null;
  coverImage: string | null;
  description: string | null;
  releaseDate: string | null;
  categories: TaxonomyRef[];
  genres: TaxonomyRef[];
  updatedAt: string;
}

export function toGameView(game: Game): GameView {
  return {
    id: game.id,
    slug: game.slug,
    name: game.name,
    priceCents: game.priceCents,
    currency: game.currency,
    inStock: isInStock(game),
    delisted: game.delisted,
    platform: game.platform?.name ?? null,
    platformSlug: game.platform?.slug ?? null,
    region: game.region,
    g2aProductId: game.g2aProductId,
    thumbnail: game.thumbnail,
    coverImage: game.coverImage,
    description: game.description,
    releaseDate: game.releaseDate,
    categories: game.categories,
    genres: game.genres,
    updatedAt: game.updatedAt.toISOString(),
  };
}
