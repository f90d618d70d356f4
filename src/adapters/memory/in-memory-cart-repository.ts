import { cartCacheKey, wishlistCacheKey, type CartLine, type CartOwner } from '../../domain/cart.js';
import { isInStock } from '../../domain/game.js';
import type { CartRepository, GameAvailability } from '../../ports/carts.js';
import type { Clock } from '../../ports/clock.js';
import {
  checkLineReferences,
  constraintViolation,
  isOwnedBy,
  oldestLineFirst,
  storedOwner,
  type CartItemRow,
  type MemoryTables,
  type TableAccess,
} from './memory-tables.js';

/** The CHECK on `cart_items.quantity`; `max` arguments cannot lift it. */
const QUANTITY_RANGE = { min: 1, max: 10 };

function checkQuantity(quantity: number): void {
  if (!Number.isInteger(quantity) || quantity < QUANTITY_RANGE.min || quantity > QUANTITY_RANGE.max)
    throw constraintViolation('check', 'cart_items_quantity_check');
}

function lineOf(tables: MemoryTables, owner: CartOwner, gameId: string): CartItemRow | undefined {
  return tables.cartItems.find((row) => row.gameId === gameId && isOwnedBy(row, owner));
}

/** Each owner once, in the order its first row comes: `SELECT DISTINCT user_id, session_id`. */
function distinctOwners(rows: { owner: CartOwner }[]): CartOwner[] {
  const owners = new Map<string, CartOwner>();
  for (const { owner } of rows) {
    const key = owner.kind === 'user' ? `user:${owner.userId}` : `guest:${owner.sessionId}`;
    if (!owners.has(key)) owners.set(key, storedOwner(owner));
  }
  return [...owners.values()];
}

/**
 * The `KyselyCartRepository` contract over the in-memory tables. Transactions of the in-memory unit of work run
 * one at a time, so row locks (`lockedLines`, `lockOwnersForMerge`) need nothing more than a read here.
 */
export class InMemoryCartRepository implements CartRepository {
  constructor(
    private readonly access: TableAccess,
    private readonly clock: Clock,
  ) {}

  lines(owner: CartOwner): Promise<CartLine[]> {
    return this.access.read((tables) =>
      tables.cartItems
        .filter((row) => isOwnedBy(row, owner))
        .sort(oldestLineFirst)
        .map((row) => {
          const game = tables.games.get(row.gameId)!;
          return {
            gameId: row.gameId,
            name: game.name,
            slug: game.slug,
            thumbnail: game.thumbnail,
            quantity: row.quantity,
            unitPriceCents: game.priceCents,
            inStock: isInStock(game),
            delisted: game.delisted,
          };
        }),
    );
  }

  lockedLines(owner: CartOwner): Promise<CartLine[]> {
    return this.lines(owner);
  }

  add(
    owner: CartOwner,
    gameId: string,
    quantity: number,
    max: number,
  ): Promise<{ quantity: number; created: boolean } | null> {
    return this.access.write((tables) => {
      const line = lineOf(tables, owner, gameId);
      const total = (line?.quantity ?? 0) + quantity;
      if (total > max) return null;
      checkQuantity(total);
      if (line) {
        line.quantity = total;
        line.updatedAt = this.clock.now();
        return { quantity: total, created: false };
      }
      checkLineReferences(tables, 'cart_items', owner, gameId);
      this.insertLine(tables, owner, gameId, total);
      return { quantity: total, created: true };
    });
  }

  setQuantity(owner: CartOwner, gameId: string, quantity: number): Promise<number | null> {
    return this.access.write((tables) => {
      const line = lineOf(tables, owner, gameId);
      if (!line) return null;
      checkQuantity(quantity);
      const previous = line.quantity;
      line.quantity = quantity;
      line.updatedAt = this.clock.now();
      return previous;
    });
  }

  addCapped(owner: CartOwner, gameId: string, quantity: number, max: number): Promise<number> {
    return this.access.write((tables) => {
      const line = lineOf(tables, owner, gameId);
      const total = Math.min((line?.quantity ?? 0) + quantity, max);
      checkQuantity(total);
      if (line) {
        line.quantity = total;
        line.updatedAt = this.clock.now();
        return total;
      }
      checkLineReferences(tables, 'cart_items', owner, gameId);
      this.insertLine(tables, owner, gameId, total);
      return total;
    });
  }

  remove(owner: CartOwner, gameIds: string[]): Promise<number> {
    const removed = new Set(gameIds);
    return this.deleteWhere((row) => isOwnedBy(row, owner) && removed.has(row.gameId));
  }

  clear(owner: CartOwner): Promise<number> {
    return this.deleteWhere((row) => isOwnedBy(row, owner));
  }

  findGameAvailability(gameId: string): Promise<GameAvailability | null> {
    return this.access.read((tables) => {
      const game = tables.games.get(gameId);
      return game
        ? { id: game.id, qty: game.qty, availableToBuy: game.availableToBuy, delisted: game.delisted }
        : null;
    });
  }

  /** Transactions run one at a time here, so the lock itself is implied; the owner must still exist. */
  lockOwner(owner: CartOwner): Promise<boolean> {
    return this.access.read((tables) => {
      if (owner.kind === 'user') return tables.users.has(owner.userId);
      const session = tables.guestSessions.get(owner.sessionId);
      return session !== undefined && session.expiresAt > this.clock.now();
    });
  }

  lockOwnersForMerge(
    userId: string,
    sessionId: string,
    now: Date,
  ): Promise<{ userFound: boolean; sessionFound: boolean }> {
    return this.access.read((tables) => {
      const session = tables.guestSessions.get(sessionId);
      return {
        userFound: tables.users.has(userId),
        sessionFound: session !== undefined && session.expiresAt > now,
      };
    });
  }

  cacheKeysHoldingGames(gameIds: string[]): Promise<string[]> {
    const wanted = new Set(gameIds);
    return this.access.read((tables) => {
      const holding = (rows: { owner: CartOwner; gameId: string }[]) =>
        distinctOwners(rows.filter((row) => wanted.has(row.gameId)));
      return [
        ...holding(tables.cartItems).map(cartCacheKey),
        ...holding(tables.wishlistItems).map(wishlistCacheKey),
      ];
    });
  }

  private insertLine(tables: MemoryTables, owner: CartOwner, gameId: string, quantity: number): void {
    const now = this.clock.now();
    tables.cartItems.push({ owner: storedOwner(owner), gameId, quantity, createdAt: now, updatedAt: now });
  }

  private deleteWhere(doomed: (row: CartItemRow) => boolean): Promise<number> {
    return this.access.write((tables) => {
      const before = tables.cartItems.length;
      tables.cartItems = tables.cartItems.filter((row) => !doomed(row));
      return before - tables.cartItems.length;
    });
  }
}
