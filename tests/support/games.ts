import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/adapters/postgres/db.js';

export interface TestGame {
  name?: string;
  priceCents?: number;
  qty?: number;
  availableToBuy?: boolean;
  delisted?: boolean;
}

/** Inserts a game straight into `games` (as a catalogue sync would) and answers its id. */
export async function insertGame(db: Db, game: TestGame = {}): Promise<string> {
  const tag = randomBytes(6).toString('hex');
  const name = game.name ?? `Test Game ${tag}`;
  const priceCents = game.priceCents ?? 1020;
  const row = await db
    .insertInto('games')
    .values({
      g2a_product_id: `test-${tag}`,
      slug: `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${tag}`,
      name,
      cost_cents: Math.floor((priceCents * 100) / 102),
      price_cents: priceCents,
      qty: game.qty ?? 5,
      available_to_buy: game.availableToBuy ?? true,
      delisted: game.delisted ?? false,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
