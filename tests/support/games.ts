import { randomBytes } from 'node:crypto';
import type { Db } from '../../src/adapters/postgres/db.js';
import { retailPriceCents } from '../../src/domain/money.js';

export interface TestGame {
  name?: string;
  priceCents?: number;
  qty?: number;
  availableToBuy?: boolean;
  delisted?: boolean;
}

/** The G2A cost behind a retail price at the default 2 % markup (the largest cost that rounds to it). */
function costOf(priceCents: number): number {
  let cost = Math.floor((priceCents * 100) / 102);
  while (retailPriceCents(cost + 1, 2) <= priceCents) cost += 1;
  return cost;
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
      cost_cents: costOf(priceCents),
      price_cents: priceCents,
      qty: game.qty ?? 5,
      available_to_buy: game.availableToBuy ?? true,
      delisted: game.delisted ?? false,
      delisted_at: game.delisted ? new Date() : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Changes a game as a stock check or a delisting catalogue run would (without the invalidations). */
export async function updateGame(db: Db, gameId: string, change: Omit<TestGame, 'name'>): Promise<void> {
  await db
    .updateTable('games')
    .set({
      ...(change.priceCents !== undefined
        ? { price_cents: change.priceCents, cost_cents: costOf(change.priceCents) }
        : {}),
      ...(change.qty !== undefined ? { qty: change.qty } : {}),
      ...(change.availableToBuy !== undefined ? { available_to_buy: change.availableToBuy } : {}),
      ...(change.delisted !== undefined
        ? { delisted: change.delisted, delisted_at: change.delisted ? new Date() : null }
        : {}),
      updated_at: new Date(),
    })
    .where('id', '=', gameId)
    .execute();
}
