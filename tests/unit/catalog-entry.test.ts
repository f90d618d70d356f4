import { describe, expect, it } from 'vitest';
import { toCatalogEntry, toStockEntry } from '../../src/application/catalog-entry.js';
import { gameSlug, isInStock, slugify } from '../../src/domain/game.js';
import type { G2AProduct } from '../../src/ports/g2a.js';

const product = (overrides: Partial<G2AProduct> = {}): G2AProduct => ({
  id: '10000068865001',
  name: 'Star Wars Battlefront II Origin Key GLOBAL',
  slug: '/star-wars-battlefront-ii-origin-key-global-i10000068865001',
  qty: 4,
  minPrice: 25.25,
  retail_min_price: 29.99,
  availableToBuy: true,
  platform: 'Origin',
  region: 'GLOBAL',
  thumbnail: 'https://images.g2a.com/58x58/x.jpg',
  release_date: '2017-11-17',
  updated_at: '2024-07-18 12:00:00',
  categories: [{ id: 189, name: 'Action' }],
  ...overrides,
});

describe('mapping G2A products', () => {
  it('maps cost, price, slug, taxonomy and timestamps', () => {
    expect(toCatalogEntry(product(), 2)).toMatchObject({
      g2aProductId: '10000068865001',
      slug: 'star-wars-battlefront-ii-origin-key-global-i10000068865001',
      costCents: 2525,
      priceCents: 2576, // 2575.5 rounds up
      retailPriceCents: 2999,
      qty: 4,
      availableToBuy: true,
      platform: { slug: 'origin', name: 'Origin' },
      region: 'GLOBAL',
      releaseDate: '2017-11-17',
      g2aUpdatedAt: new Date('2024-07-18T12:00:00Z'),
      categories: [{ g2aId: 189, slug: 'action', name: 'Action' }],
    });
  });

  it('treats availableToBuy as true unless G2A says false, and clamps odd quantities', () => {
    expect(toStockEntry(product({ availableToBuy: undefined }), 2)!.availableToBuy).toBe(true);
    expect(toStockEntry(product({ availableToBuy: false }), 2)!.availableToBuy).toBe(false);
    expect(toStockEntry(product({ qty: -3 }), 2)!.qty).toBe(0);
  });

  it('skips products too malformed to sell and tolerates missing optional fields', () => {
    expect(toCatalogEntry(product({ minPrice: Number.NaN }), 2)).toBeNull();
    expect(toCatalogEntry(product({ id: '' }), 2)).toBeNull();
    const bare = toCatalogEntry({ id: '123', name: 'Bare Game', qty: 1, minPrice: 1 }, 2)!;
    expect(bare).toMatchObject({
      slug: 'bare-game-i123',
      platform: null,
      categories: [],
      releaseDate: null,
      retailPriceCents: null,
    });
    expect(toCatalogEntry(product({ release_date: '17/11/2017', updated_at: 'yesterday' }), 2)).toMatchObject(
      {
        releaseDate: null,
        g2aUpdatedAt: null,
      },
    );
  });

  it('derives stock from quantity, availability and listing', () => {
    expect(isInStock({ qty: 1, availableToBuy: true, delisted: false })).toBe(true);
    expect(isInStock({ qty: 0, availableToBuy: true, delisted: false })).toBe(false);
    expect(isInStock({ qty: 5, availableToBuy: false, delisted: false })).toBe(false);
    expect(isInStock({ qty: 5, availableToBuy: true, delisted: true })).toBe(false);
  });

  it('makes URL-safe slugs', () => {
    expect(slugify('Café — Über Edition!')).toBe('cafe-uber-edition');
    expect(gameSlug({ id: '9', name: '???' })).toBe('game-i9');
  });
});

describe('game slugs', () => {
  it('keep the product id however long the text, so two long names never share a slug', () => {
    const long = 'the-elder-scrolls-online-'.repeat(8);
    const a = gameSlug({ id: '10000000000001', name: '', slug: `/${long}key-europe-i10000000000001` });
    const b = gameSlug({ id: '10000000000002', name: '', slug: `/${long}key-europe-i10000000000002` });
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(120);
    expect(a.endsWith('-i10000000000001')).toBe(true);
    expect(gameSlug({ id: '7', name: 'Hades', slug: '/hades-pc-steam-key-global-i7' })).toBe(
      'hades-pc-steam-key-global-i7',
    );
    expect(gameSlug({ id: '7', name: 'Hades' })).toBe('hades-i7');
  });
});
