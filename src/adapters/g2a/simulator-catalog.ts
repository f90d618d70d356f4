import type { G2AProduct } from '../../ports/g2a.js';
import { deriveSeed, mulberry32 } from './seeded-random.js';

const TITLE_OPENERS = [
  ...'Crimson Silent Iron Shadow Stellar Broken Last Eternal Neon Frozen'.split(' '),
  ...'Hidden Savage Golden Lost Rogue Ancient Hollow Burning Quantum Wild'.split(' '),
];
const TITLE_SUBJECTS = [
  ...'Frontier Legion Kingdom Protocol Horizon Dynasty Odyssey Citadel Outpost Voyage'.split(' '),
  ...'Rebellion Empire Harbor Descent Circuit Tides Crown Wasteland Garden Arena'.split(' '),
];
const TITLE_SUFFIXES = [
  '',
  '',
  '',
  ' 2',
  ' 3',
  ' Remastered',
  ': Deluxe Edition',
  ': Gold Edition',
  ' Anniversary',
];

const PLATFORMS = [
  { platform: 'Steam', device: 'PC', label: 'Steam Key' },
  { platform: 'Origin', device: 'PC', label: 'Origin Key' },
  { platform: 'GOG.COM', device: 'PC', label: 'GOG.COM Key' },
  { platform: 'Epic games', device: 'PC', label: 'Epic Games Key' },
  { platform: 'Battle.net', device: 'PC', label: 'Battle.net Key' },
  { platform: 'Xbox', device: 'Xbox One', label: 'Xbox Live Key' },
  { platform: 'PSN', device: 'PS5', label: 'PSN Key' },
  { platform: 'Uplay', device: 'PC', label: 'Ubisoft Connect Key' },
] as const;
// Steam dominates the real marketplace; weights keep the simulated mix plausible.
const PLATFORM_WEIGHTS = [45, 8, 8, 8, 5, 10, 10, 6];

const REGIONS = [
  'GLOBAL',
  'GLOBAL',
  'GLOBAL',
  'EUROPE',
  'EUROPE',
  'NORTH AMERICA',
  'EUROPE / NORTH AMERICA',
  'RU/CIS',
  'UNITED KINGDOM',
  'GERMANY',
  'POLAND',
  'SOUTH EASTERN ASIA',
];

const CATEGORIES = [
  { id: 1, name: 'Action' },
  { id: 2, name: 'Adventure' },
  { id: 3, name: 'RPG' },
  { id: 4, name: 'Strategy' },
  { id: 5, name: 'Simulation' },
  { id: 6, name: 'Sports' },
  { id: 7, name: 'Racing' },
  { id: 8, name: 'Indie' },
  { id: 9, name: 'Shooter' },
  { id: 10, name: 'Puzzle' },
  { id: 11, name: 'Horror' },
  { id: 12, name: 'Multiplayer' },
];

const STUDIOS = ['Northwind Games', 'Blue Comet', 'Pixel Forge', 'Ironbark Studio', 'Lumen Works', ''];

const ID_BASE = 10_000_000_000_000;
// Each index owns a block of ids, so ids stay unique, 14 digits long and increasing with the index.
const ID_BLOCK = 10_007;
const UPDATED_AT_EPOCH = Date.UTC(2025, 0, 1);
const DAY_MS = 86_400_000;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)] as T;
}

function pickWeighted<T>(random: () => number, items: readonly T[], weights: readonly number[]): T {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let ticket = random() * total;
  for (let index = 0; index < items.length; index++) {
    ticket -= weights[index] ?? 0;
    if (ticket < 0) return items[index] as T;
  }
  return items[items.length - 1] as T;
}

function roundCents(value: number): number {
  return Math.round(value * 100) / 100;
}

function slugify(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

/** `YYYY-MM-DD HH:mm:ss` in UTC, the way G2A writes `updated_at`. */
export function formatG2ATimestamp(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 19).replace('T', ' ');
}

/** The product at `index` of the catalogue for `seed`: the same for a given pair, whatever the catalogue size. */
export function generateSimulatedProduct(seed: number, index: number): G2AProduct {
  const random = mulberry32(deriveSeed(seed, index));
  const id = String(ID_BASE + index * ID_BLOCK + Math.floor(random() * (ID_BLOCK - 1)));
  const title = `${pick(random, TITLE_OPENERS)} ${pick(random, TITLE_SUBJECTS)}${pick(random, TITLE_SUFFIXES)}`;
  const { platform, device, label } = pickWeighted(random, PLATFORMS, PLATFORM_WEIGHTS);
  const region = pick(random, REGIONS);
  const name = `${title} (${device}) ${label} ${region}`;

  const minPrice = roundCents(0.49 + random() ** 2 * 79.5);
  const outOfStock = random() < 0.08;
  const qty = outOfStock ? 0 : 1 + Math.floor(random() * 250);
  const availableToBuy = random() >= 0.02;

  const categoryCount = 1 + Math.floor(random() * 3);
  const categories = [...new Set(Array.from({ length: categoryCount }, () => pick(random, CATEGORIES)))];
  const studio = pick(random, STUDIOS);
  const releaseDate = new Date(Date.UTC(2000, 0, 1) + Math.floor(random() * 9_300) * DAY_MS);
  const updatedAt = UPDATED_AT_EPOCH + Math.floor(random() * 180 * DAY_MS);
  const image = (size: string) => `https://images.g2a.com/${size}/1x1x0/${slugify(title)}/${id}.jpg`;

  return {
    id,
    name,
    type: 'egoods',
    slug: `/${slugify(name)}-i${id}`,
    qty,
    minPrice,
    retail_min_price: roundCents(minPrice * (1.05 + random() * 0.25)),
    retailMinBasePrice: roundCents(minPrice * (0.9 + random() * 0.08)),
    availableToBuy,
    thumbnail: image('58x58'),
    smallImage: image('230x336'),
    coverImage: image('1024x768'),
    description: `<p>${title} for ${platform}, region ${region}.</p>`,
    region,
    developer: studio,
    publisher: studio,
    platform,
    release_date: releaseDate.toISOString().slice(0, 10),
    updated_at: formatG2ATimestamp(updatedAt),
    categories,
  };
}
