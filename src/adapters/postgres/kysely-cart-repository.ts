import { sql, type Kysely, type Transaction } from 'kysely';
import type { CartLine, CartOwner } from '../../domain/cart.js';
import { isInStock } from '../../domain/game.js';
import type { CartReader, CartRepository, GameAvailability, GameHolders } from '../../ports/carts.js';
import { ownerColumn, ownerValues } from './cart-owner-columns.js';
import type { Database } from './schema.js';

function ownersOf(rows: { user_id: string | null; session_id: string | null }[]): CartOwner[] {
  return rows.map((row) =>
    row.user_id !== null
      ? { kind: 'user', userId: row.user_id }
      : { kind: 'guest', sessionId: row.session_id as string },
  );
}

export class KyselyCartReader implements CartReader {
  constructor(protected readonly db: Kysely<Database>) {}

  async lines(owner: CartOwner): Promise<CartLine[]> {
    const rows = await this.linesQuery(owner).orderBy('c.created_at').orderBy('c.game_id').execute();
    return rows.map(toCartLine);
  }

  protected linesQuery(owner: CartOwner) {
    const { column, id } = ownerColumn(owner);
    return this.db
      .selectFrom('cart_items as c')
      .innerJoin('games as g', 'g.id', 'c.game_id')
      .select([
        'c.game_id',
        'c.quantity',
        'g.name',
        'g.slug',
        'g.thumbnail',
        'g.price_cents',
        'g.qty',
        'g.available_to_buy',
        'g.delisted',
        'c.created_at',
      ])
      .where(`c.${column}`, '=', id);
  }
}

type LineRow = Awaited<ReturnType<ReturnType<KyselyCartReader['linesQuery']>['execute']>>[number];

function toCartLine(row: LineRow): CartLine {
  return {
    gameId: row.game_id,
    name: row.name,
    slug: row.slug,
    thumbnail: row.thumbnail,
    quantity: row.quantity,
    unitPriceCents: row.price_cents,
    inStock: isInStock({ qty: row.qty, availableToBuy: row.available_to_buy, delisted: row.delisted }),
    delisted: row.delisted,
  };
}

export class KyselyCartRepository extends KyselyCartReader implements CartRepository {
  constructor(tx: Transaction<Database>) {
    super(tx);
  }

  async lockedLines(owner: CartOwner): Promise<CartLine[]> {
    // Locked in one fixed order (game id), so two lockers never wait on each other crosswise; answered in the
    // order the owner added them.
    const rows = await this.linesQuery(owner).orderBy('c.game_id').forUpdate('c').execute();
    rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.game_id < b.game_id ? -1 : 1));
    return rows.map(toCartLine);
  }

  async add(
    owner: CartOwner,
    gameId: string,
    quantity: number,
    max: number,
  ): Promise<{ quantity: number; created: boolean } | null> {
    // Past the maximum even as a new line: refused here, not by the CHECK constraint (which would abort the
    // caller's transaction).
    if (quantity > max) return null;
    const { column } = ownerColumn(owner);
    const row = await this.db
      .insertInto('cart_items')
      .values({ ...ownerValues(owner), game_id: gameId, quantity })
      .onConflict((oc) =>
        oc
          .columns([column, 'game_id'])
          .where(column, 'is not', null)
          .doUpdateSet({ quantity: sql`cart_items.quantity + excluded.quantity`, updated_at: sql`now()` })
          .where(sql`cart_items.quantity + excluded.quantity`, '<=', max),
      )
      // xmax is 0 on a freshly inserted row and set on one the conflict clause updated.
      .returning(['quantity', sql<boolean>`xmax = 0`.as('created')])
      .executeTakeFirst();
    return row ? { quantity: row.quantity, created: row.created } : null;
  }

  async setQuantity(owner: CartOwner, gameId: string, quantity: number): Promise<number | null> {
    const { column, id } = ownerColumn(owner);
    const current = await this.db
      .selectFrom('cart_items')
      .select('quantity')
      .where(column, '=', id)
      .where('game_id', '=', gameId)
      .forUpdate()
      .executeTakeFirst();
    if (!current) return null;
    await this.db
      .updateTable('cart_items')
      .set({ quantity, updated_at: sql`now()` })
      .where(column, '=', id)
      .where('game_id', '=', gameId)
      .execute();
    return current.quantity;
  }

  async addCapped(owner: CartOwner, gameId: string, quantity: number, max: number): Promise<number> {
    const { column } = ownerColumn(owner);
    const row = await this.db
      .insertInto('cart_items')
      .values({ ...ownerValues(owner), game_id: gameId, quantity: Math.min(quantity, max) })
      .onConflict((oc) =>
        oc
          .columns([column, 'game_id'])
          .where(column, 'is not', null)
          .doUpdateSet({
            quantity: sql`least(cart_items.quantity + excluded.quantity, ${max})`,
            updated_at: sql`now()`,
          }),
      )
      .returning('quantity')
      .executeTakeFirstOrThrow();
    return row.quantity;
  }

  async remove(owner: CartOwner, gameIds: string[]): Promise<number> {
    if (gameIds.length === 0) return 0;
    const { column, id } = ownerColumn(owner);
    const result = await this.db
      .deleteFrom('cart_items')
      .where(column, '=', id)
      .where('game_id', 'in', gameIds)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async clear(owner: CartOwner): Promise<number> {
    const { column, id } = ownerColumn(owner);
    const result = await this.db.deleteFrom('cart_items').where(column, '=', id).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async findGameAvailability(gameId: string): Promise<GameAvailability | null> {
    const row = await this.db
      .selectFrom('games')
      .select(['id', 'qty', 'available_to_buy', 'delisted'])
      .where('id', '=', gameId)
      .forShare()
      .executeTakeFirst();
    return row
      ? { id: row.id, qty: row.qty, availableToBuy: row.available_to_buy, delisted: row.delisted }
      : null;
  }

  async lockOwner(owner: CartOwner): Promise<boolean> {
    const row =
      owner.kind === 'user'
        ? await this.db
            .selectFrom('users')
            .select('id')
            .where('id', '=', owner.userId)
            .forShare()
            .executeTakeFirst()
        : await this.db
            .selectFrom('guest_sessions')
            .select('id')
            .where('id', '=', owner.sessionId)
            .where('expires_at', '>', new Date())
            .forShare()
            .executeTakeFirst();
    return row !== undefined;
  }

  async lockOwnersForMerge(
    userId: string,
    sessionId: string,
    now: Date,
  ): Promise<{ userFound: boolean; sessionFound: boolean }> {
    // NO KEY UPDATE: merges of one owner exclude each other, yet cart inserts (whose foreign key check takes
    // KEY SHARE on the owner row) do not wait for it: a merge and a cart add cannot deadlock.
    const user = await this.db
      .selectFrom('users')
      .select('id')
      .where('id', '=', userId)
      .forNoKeyUpdate()
      .executeTakeFirst();
    const session = await this.db
      .selectFrom('guest_sessions')
      .select('id')
      .where('id', '=', sessionId)
      .where('expires_at', '>', now)
      .forNoKeyUpdate()
      .executeTakeFirst();
    return { userFound: user !== undefined, sessionFound: session !== undefined };
  }

  async holdersOf(gameIds: string[]): Promise<GameHolders> {
    if (gameIds.length === 0) return { carts: [], wishlists: [] };
    const holders = (table: 'cart_items' | 'wishlist_items') =>
      this.db
        .selectFrom(table)
        .select(['user_id', 'session_id'])
        .distinct()
        .where('game_id', '=', sql<string>`any(${sql.val(gameIds)}::uuid[])`)
        .execute();
    const [cartHolders, wishlistHolders] = [await holders('cart_items'), await holders('wishlist_items')];
    return { carts: ownersOf(cartHolders), wishlists: ownersOf(wishlistHolders) };
  }
}
