import type { CartOwner } from '../../domain/cart.js';
import { isInStock } from '../../domain/game.js';
import type { WishlistEntry } from '../../domain/wishlist.js';
import type { WishlistRepository } from '../../ports/carts.js';
import type { Clock } from '../../ports/clock.js';
import {
  checkLineReferences,
  isOwnedBy,
  oldestLineFirst,
  storedOwner,
  type MemoryTables,
  type TableAccess,
  type WishlistItemRow,
} from './memory-tables.js';

function entriesOf(tables: MemoryTables, owner: CartOwner): WishlistItemRow[] {
  return tables.wishlistItems.filter((row) => isOwnedBy(row, owner));
}

/** The `KyselyWishlistRepository` contract over the in-memory tables. */
export class InMemoryWishlistRepository implements WishlistRepository {
  constructor(
    private readonly access: TableAccess,
    private readonly clock: Clock,
  ) {}

  entries(owner: CartOwner): Promise<WishlistEntry[]> {
    return this.access.read((tables) =>
      entriesOf(tables, owner)
        // `ORDER BY created_at DESC, game_id`: newest first, ties by game id ascending.
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || oldestLineFirst(a, b))
        .map((row) => {
          const game = tables.games.get(row.gameId)!;
          return {
            gameId: row.gameId,
            name: game.name,
            slug: game.slug,
            thumbnail: game.thumbnail,
            priceCents: game.priceCents,
            currency: game.currency,
            inStock: isInStock(game),
            delisted: game.delisted,
            addedAt: new Date(row.createdAt),
          };
        }),
    );
  }

  gameIds(owner: CartOwner): Promise<string[]> {
    return this.access.read((tables) =>
      entriesOf(tables, owner)
        .sort(oldestLineFirst)
        .map((row) => row.gameId),
    );
  }

  add(owner: CartOwner, gameId: string): Promise<boolean> {
    return this.access.write((tables) => {
      if (entriesOf(tables, owner).some((row) => row.gameId === gameId)) return false;
      checkLineReferences(tables, 'wishlist_items', owner, gameId);
      tables.wishlistItems.push({ owner: storedOwner(owner), gameId, createdAt: this.clock.now() });
      return true;
    });
  }

  remove(owner: CartOwner, gameIds: string[]): Promise<number> {
    const removed = new Set(gameIds);
    return this.access.write((tables) => {
      const before = tables.wishlistItems.length;
      tables.wishlistItems = tables.wishlistItems.filter(
        (row) => !(isOwnedBy(row, owner) && removed.has(row.gameId)),
      );
      return before - tables.wishlistItems.length;
    });
  }
}
