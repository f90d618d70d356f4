import type { CartLine, CartOwner } from '../domain/cart.js';
import type { Game } from '../domain/game.js';
import type { WishlistEntry } from '../domain/wishlist.js';

export type { CartOwner } from '../domain/cart.js';

/** What adding a game to a cart or a wishlist needs to know about it. */
export type GameAvailability = Pick<Game, 'id' | 'qty' | 'availableToBuy' | 'delisted'>;

/** Reads carts outside a transaction. */
export interface CartReader {
  /** The owner's lines with each game's current name, price and availability, oldest line first. */
  lines(owner: CartOwner): Promise<CartLine[]>;
}

/** The owners whose carts and wishlists hold some games. */
export interface GameHolders {
  carts: CartOwner[];
  wishlists: CartOwner[];
}

/** Cart lines of users and guest sessions, as a transaction changes them (with the locks that takes). */
export interface CartRepository extends CartReader {
  /** As `lines`, with the lines locked until the transaction ends: concurrent changes to them wait. */
  lockedLines(owner: CartOwner): Promise<CartLine[]>;
  /**
   * Adds `quantity` units in one statement: creates the line or raises it, unless the result would pass `max`.
   * Answers the new quantity and whether the line is new, or `null` (nothing changed) when `max` would be passed.
   * Concurrent adds to one line never lose units.
   */
  add(
    owner: CartOwner,
    gameId: string,
    quantity: number,
    max: number,
  ): Promise<{ quantity: number; created: boolean } | null>;
  /** Sets the quantity of an existing line; answers the old quantity, or `null` when there is no such line. */
  setQuantity(owner: CartOwner, gameId: string, quantity: number): Promise<number | null>;
  /**
   * Adds `quantity` units in one statement, cutting the result to `max` instead of refusing it (the sign-in
   * merge); answers the new quantity.
   */
  addCapped(owner: CartOwner, gameId: string, quantity: number, max: number): Promise<number>;
  /** Removes the owner's lines of these games; answers how many went. */
  remove(owner: CartOwner, gameIds: string[]): Promise<number>;
  /** Removes every line of the owner; answers how many went. */
  clear(owner: CartOwner): Promise<number>;
  /**
   * The game's stock, share-locking its row for the transaction: a catalogue change of the game then waits for
   * this cart change (and sees its line when it lists the carts to invalidate), or the other way round. `null`
   * when no such game exists.
   */
  findGameAvailability(gameId: string): Promise<GameAvailability | null>;
  /** Share-locks the owner's row (user or live guest session); false when there is none. */
  lockOwner(owner: CartOwner): Promise<boolean>;
  /**
   * Locks both owners of a sign-in merge, always in this order (the user row, then the guest session row), so
   * concurrent merges of either owner run one after the other. Answers which of the two exist; a guest session
   * that expired before `now` counts as missing.
   */
  lockOwnersForMerge(
    userId: string,
    sessionId: string,
    now: Date,
  ): Promise<{ userFound: boolean; sessionFound: boolean }>;
  /** Every owner whose cart or wishlist holds any of these games: they show a price or stock that changed. */
  holdersOf(gameIds: string[]): Promise<GameHolders>;
}

/** Reads wishlists outside a transaction. */
export interface WishlistReader {
  /** The owner's wishlisted games as they are now, newest entry first. */
  entries(owner: CartOwner): Promise<WishlistEntry[]>;
}

/** Wishlists of users and guest sessions, as a transaction changes them. */
export interface WishlistRepository extends WishlistReader {
  /** The ids of the owner's wishlisted games. */
  gameIds(owner: CartOwner): Promise<string[]>;
  /** Wishlists the game; answers `false` when it already was (nothing changed). */
  add(owner: CartOwner, gameId: string): Promise<boolean>;
  /** Removes the owner's entries of these games; answers how many went. */
  remove(owner: CartOwner, gameIds: string[]): Promise<number>;
}
