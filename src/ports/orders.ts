import type { Page } from '../domain/game.js';
import type { StoredKey } from '../domain/idempotency.js';
import type { LedgerEntry } from '../domain/ledger.js';
import type { GameForSale, Order, OrderLine, OrderStatus, OrderUnitState } from '../domain/order.js';

/** Reads orders outside a transaction. */
export interface OrderReader {
  /** The order with its lines (in checkout order) and units, or null. */
  findById(orderId: string): Promise<Order | null>;
  /** Every order of the user, newest first, with lines and units. */
  listByUser(userId: string): Promise<Order[]>;
}

export interface NewOrder {
  userId: string;
  source: Order['source'];
  totalCents: number;
  lines: Omit<OrderLine, 'id' | 'position'>[];
}

/** Orders as a transaction changes them, with the locks that takes. */
export interface OrderRepository extends OrderReader {
  /**
   * Everything a checkout locks, in one statement and in the order every writer takes them: the user's wallet
   * (as `WalletRepository.lockWallet` does), then — ordering the cart — the cart's lines, then the games, in id
   * order. `balanceCents` is null for an unknown user; `lines` are what is ordered (the cart's, or `items`).
   */
  lockForCheckout(
    userId: string,
    what: { items: { gameId: string; quantity: number }[] } | { cart: true },
  ): Promise<{
    balanceCents: number | null;
    lines: { gameId: string; quantity: number }[];
    games: Map<string, GameForSale>;
  }>;
  /** Inserts a `paid` order with its lines and one `pending` unit per key bought. */
  insert(order: NewOrder): Promise<Order>;
  /** The order with its units, locked (the order row, then its units) until the transaction ends. */
  lock(orderId: string): Promise<Order | null>;
  /** Moves units that are in one of `from` to `to`; answers the ids that moved. */
  moveUnits(unitIds: string[], to: OrderUnitState, from: readonly OrderUnitState[]): Promise<string[]>;
  /** Moves the order to `to` from one of the statuses allowed to precede it; false when it was elsewhere. */
  moveStatus(orderId: string, to: OrderStatus): Promise<boolean>;
}

/** A new ledger entry; the repository adds the user's running balance. */
export type NewLedgerEntry =
  | { type: 'top_up'; amountCents: number; reference: string }
  | { type: 'purchase'; amountCents: number; orderId: string }
  | { type: 'refund'; amountCents: number; orderId: string; orderUnitId: string };

/** Wallets and their ledger, as a transaction changes them. */
export interface WalletRepository {
  /**
   * Locks the user's wallet until the transaction ends (every balance change of the user waits) and answers
   * its balance, or null when there is no such user.
   */
  lockWallet(userId: string): Promise<number | null>;
  /**
   * Changes the locked wallet by the entries' amounts and records them, in order, in the ledger; answers the
   * entries with the balance after each. A balance that would go below zero is refused by the database.
   */
  record(userId: string, entries: NewLedgerEntry[]): Promise<LedgerEntry[]>;
  /**
   * Locks a top-up reference until the transaction ends, across users: a concurrent top-up with the same
   * reference waits, then finds this one's entry.
   */
  lockTopUpReference(reference: string): Promise<void>;
  /** The top-up of this reference, whoever it credited. */
  findTopUp(reference: string): Promise<LedgerEntry | null>;
}

/** Reads the ledger outside a transaction. */
export interface LedgerReader {
  /** The user's entries, newest first. */
  entries(userId: string, page: { page: number; pageSize: number }): Promise<Page<LedgerEntry>>;
}

/** Idempotency keys of one user's requests. */
export interface IdempotencyRepository {
  /**
   * Takes the key for the rest of the transaction without waiting (`held: false` when another request holds
   * it now) and answers the response stored with it, if any that is younger than its time to live.
   */
  acquire(
    userId: string,
    key: string,
    now: Date,
  ): Promise<{ held: false } | { held: true; stored: StoredKey | null }>;
  /**
   * Stores the response with the request's hash, in the transaction that produced it; false when another
   * request stored one first (it committed between this transaction's read and its lock).
   */
  store(userId: string, key: string, stored: StoredKey, now: Date): Promise<boolean>;
  /** Removes keys created before `before`, at most `limit`; answers how many. */
  purgeCreatedBefore(before: Date, limit: number): Promise<number>;
}
