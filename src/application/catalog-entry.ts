import { gameSlug, slugify } from '../domain/game.js';
import { eurosToCents, retailPriceCents } from '../domain/money.js';
import type { CatalogEntry, StockEntry } from '../ports/catalog.js';
import type { G2AProduct } from '../ports/g2a.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const G2A_TIMESTAMP = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})$/;

/** G2A's `updated_at` carries no zone; it is read as UTC. */
function parseG2ATimestamp(value: string | undefined): Date | null {
  const match = value ? G2A_TIMESTAMP.exec(value) : null;
  if (!match) return null;
  const date = new Date(`${match[1]}T${match[2]}Z`);
  return Number.isNaN(date.getTime()) ? null : date;
}

function validProduct(product: G2AProduct): boolean {
  return (
    typeof product.id === 'string' &&
    product.id.length > 0 &&
    typeof product.name === 'string' &&
    Number.isFinite(product.minPrice) &&
    product.minPrice >= 0
  );
}

/** The shop's stock view of a product: in stock only when G2A has units and does not forbid buying them. */
export function toStockEntry(product: G2AProduct, markupPercent: number): StockEntry | null {
  if (!validProduct(product)) return null;
  const costCents = eurosToCents(product.minPrice);
  return {
    g2aProductId: product.id,
    qty: Number.isInteger(product.qty) && product.qty > 0 ? product.qty : 0,
    availableToBuy: product.availableToBuy !== false,
    costCents,
    priceCents: retailPriceCents(costCents, markupPercent),
  };
}

/** Maps a G2A product to the shop's catalogue entry; answers null for a product too malformed to sell. */
export function toCatalogEntry(product: G2AProduct, markupPercent: number): CatalogEntry | null {
  const stock = toStockEntry(product, markupPercent);
  if (!stock) return null;
  const platform = product.platform?.trim();
  const retail = product.retail_min_price;
  return {
    ...stock,
    slug: gameSlug(product),
    name: product.name.trim().slice(0, 500),
    description: product.description ?? null,
    platform: platform && slugify(platform) ? { slug: slugify(platform), name: platform } : null,
    region: product.region?.trim() || null,
    thumbnail: product.thumbnail ?? product.smallImage ?? null,
    coverImage: product.coverImage ?? product.smallImage ?? null,
    releaseDate: product.release_date && DATE.test(product.release_date) ? product.release_date : null,
    retailPriceCents:
      typeof retail === 'number' && Number.isFinite(retail) && retail >= 0 ? eurosToCents(retail) : null,
    g2aUpdatedAt: parseG2ATimestamp(product.updated_at),
    categories: (product.categories ?? [])
      .filter((c) => Number.isInteger(c.id) && typeof c.name === 'string' && slugify(c.name))
      .map((c) => ({ g2aId: c.id, slug: slugify(c.name), name: c.name.trim() })),
  };
}
