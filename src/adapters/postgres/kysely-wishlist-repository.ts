import { sql, type Kysely, type Transaction } from 'kysely';
import type { CartOwner } from '../../domain/cart.js';
import { isInStock } from '../../domain/game.js';
import type { WishlistEntry } from '../../domain/wishlist.js';
import type { WishlistReader, WishlistRepository } from '../../ports/carts.js';
import { ownerColumn, ownerValues } from './cart-owner-columns.js';
import type { Database } from './schema.js';

export class KyselyWishlistReader implements WishlistReader {
  constructor(protected readonly db: Kysely<Database>) {}

  async entries(owner: CartOwner): Promise<WishlistEntry[]> {
    const { column, id } = ownerColumn(owner);
    const rows = await this.db
      .selectFrom('wishlist_items as w')
      .innerJoin('games as g', 'g.id', 'w.game_id')
      .select([
        'w.game_id',
        'w.created_at',
        'g.name',
        'g.slug',
        'g.thumbnail',
        'g.price_cents',
        'g.currency',
        'g.qty',
        'g.available_to_buy',
        'g.delisted',
      ])
      .where(`w.${column}`, '=', id)
      .orderBy('w.created_at', 'desc')
      .orderBy('w.game_id')
      .execute();
    return rows.map((row) => ({
      gameId: row.game_id,
      name: row.name,
      slug: row.slug,
      thumbnail: row.thumbnail,
      priceCents: row.price_cents,
      currency: row.currency,
      inStock: isInStock({ qty: row.qty, availableToBuy: row.available_to_buy, delisted: row.delisted }),
      delisted: row.delisted,
      addedAt: row.created_at,
    }));
  }
}

export class KyselyWishlistRepository extends KyselyWishlistReader implements WishlistRepository {
  constructor(tx: Transaction<Database>) {
    super(tx);
  }

  async gameIds(owner: CartOwner): Promise<string[]> {
    const { column, id } = ownerColumn(owner);
    const rows = await this.db
      .selectFrom('wishlist_items')
      .select('game_id')
      .where(column, '=', id)
      .orderBy('created_at')
      .orderBy('game_id')
      .execute();
    return rows.map((row) => row.game_id);
  }

  async add(owner: CartOwner, gameId: string): Promise<boolean> {
    const { column } = ownerColumn(owner);
    const row = await this.db
      .insertInto('wishlist_items')
      .values({ ...ownerValues(owner), game_id: gameId })
      .onConflict((oc) => oc.columns([column, 'game_id']).where(column, 'is not', null).doNothing())
      .returning(sql<number>`1`.as('added'))
      .executeTakeFirst();
    return row !== undefined;
  }

  async remove(owner: CartOwner, gameIds: string[]): Promise<number> {
    if (gameIds.length === 0) return 0;
    const { column, id } = ownerColumn(owner);
    const result = await this.db
      .deleteFrom('wishlist_items')
      .where(column, '=', id)
      .where('game_id', 'in', gameIds)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
