import { createHash } from 'node:crypto';
import { cartCacheKey, type CartOwner } from '../domain/cart.js';
import { DomainError } from '../domain/errors.js';
import {
  assertOrderItems,
  MAX_ORDER_LINES,
  orderTotalCents,
  unavailableGames,
  type Order,
  type OrderItemRequest,
} from '../domain/order.js';
import type { Json } from '../ports/cache.js';
import type { Clock } from '../ports/clock.js';
import type { Logger } from '../ports/logger.js';
import type { TransactionScope, UnitOfWork } from '../ports/unit-of-work.js';
import { invalidateOrder } from './order-invalidation.js';
import { toOrderView, type OrderView } from './order-views.js';

export interface PlaceOrderInput {
  userId: string;
  idempotencyKey: string;
  /** An explicit list; without it the user's cart is ordered (and emptied). */
  items?: OrderItemRequest[];
}

/** The response of a checkout, exactly as first sent: a replay answers these bytes again. */
export interface PlaceOrderOutput {
  status: number;
  body: Json<OrderView>;
  replayed: boolean;
}

export interface PlaceOrderDeps {
  uow: UnitOfWork;
  clock: Clock;
  logger: Logger;
}

/**
 * How long a claimed key stays with a request whose process may have died; the checkout itself takes
 * milliseconds, and holds the key's row lock while it runs, so a live request is never taken over.
 */
export const IDEMPOTENCY_LEASE_MS = 30_000;

/**
 * Checks out the user's cart, or an explicit item list, paid from the wallet, under an `Idempotency-Key`:
 * the same key and body answer the first response byte for byte and charge once; another body is
 * IDEMPOTENCY_KEY_REUSED; a request with the key still running is IDEMPOTENCY_KEY_IN_USE. A refusal
 * (CART_EMPTY, QUANTITY_LIMIT, GAME_NOT_FOUND, OUT_OF_STOCK, INSUFFICIENT_FUNDS) is not stored: it changed
 * nothing, and the key may be sent again once the cause is gone (a top-up, a restock).
 *
 * One transaction locks the wallet, re-reads every game under a share lock at its current price, writes the
 * order (`paid`) with its lines and units, debits the wallet with a `purchase` entry, empties the cart when
 * ordering from it, and writes the invalidations — all or nothing.
 */
export async function placeOrder(deps: PlaceOrderDeps, input: PlaceOrderInput): Promise<PlaceOrderOutput> {
  const started = performance.now();
  const items = input.items?.map((item) => ({ ...item, gameId: item.gameId.toLowerCase() }));
  if (items) assertOrderItems(items);
  const requestHash = hashRequest(items);
  const key = { userId: input.userId, key: input.idempotencyKey };
  const claim = await deps.uow.run((scope) =>
    scope.idempotency.claim({ ...key, requestHash, leaseMs: IDEMPOTENCY_LEASE_MS, now: deps.clock.now() }),
  );
  if (claim.outcome === 'unknown_owner') throw accountGone();
  if (claim.outcome === 'replay') {
    return { status: claim.response.status, body: claim.response.body as Json<OrderView>, replayed: true };
  }
  if (claim.outcome === 'reused') {
    throw new DomainError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was used with another request body',
      {
        field: 'idempotency-key',
      },
    );
  }
  if (claim.outcome === 'in_use') throw keyInUse();

  const log = deps.logger.child({ operation: 'order.place', userId: input.userId });
  try {
    const order = await deps.uow.run(async (scope) => {
      const placed = await checkOut(scope, { ...input, items });
      const body = JSON.stringify(toOrderView(placed)) as Json<OrderView>;
      // Still ours? Only a takeover of a request thought dead (its lease ran out) changes that: roll back then.
      if (!(await scope.idempotency.complete(key.userId, key.key, claim.claimId, { status: 201, body }))) {
        throw keyInUse();
      }
      return { placed, body };
    });
    log.info(
      {
        outcome: 'placed',
        orderId: order.placed.id,
        units: order.placed.units.length,
        totalCents: order.placed.totalCents,
        source: order.placed.source,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
      },
      'order placed',
    );
    return { status: 201, body: order.body, replayed: false };
  } catch (error) {
    // Nothing of the checkout committed: the key is free again (a stored response is never released).
    await deps.uow
      .run((scope) => scope.idempotency.release(key.userId, key.key, claim.claimId))
      .catch((releaseError: unknown) =>
        log.warn({ err: releaseError }, 'idempotency key not released; it frees itself when its lease ends'),
      );
    if (error instanceof DomainError) {
      log.info(
        { outcome: 'refused', code: error.code, durationMs: Math.round(performance.now() - started) },
        error.message,
      );
    }
    throw error;
  }
}

async function checkOut(scope: TransactionScope, input: PlaceOrderInput): Promise<Order> {
  const owner: CartOwner = { kind: 'user', userId: input.userId };
  // The wallet first: checkouts, cart changes and merges of this user wait for this one.
  const balance = await scope.wallets.lockWallet(input.userId);
  if (balance === null) throw accountGone();

  const fromCart = input.items === undefined;
  const items: OrderItemRequest[] = fromCart
    ? (await scope.carts.lockedLines(owner)).map((line) => ({ gameId: line.gameId, quantity: line.quantity }))
    : input.items!;
  if (items.length === 0) throw new DomainError('CART_EMPTY', 'the cart is empty');
  if (fromCart && items.length > MAX_ORDER_LINES) {
    throw new DomainError(
      'QUANTITY_LIMIT',
      `an order holds at most ${MAX_ORDER_LINES} different games; the cart has ${items.length}`,
    );
  }

  const games = await scope.orders.lockGamesForSale(items.map((item) => item.gameId));
  const missing = items.filter((item) => !games.has(item.gameId)).map((item) => item.gameId);
  if (missing.length > 0) {
    throw new DomainError('GAME_NOT_FOUND', `no such game: ${missing.join(', ')}`, { gameIds: missing });
  }
  const unavailable = unavailableGames(items, games);
  if (unavailable.length > 0) {
    throw new DomainError(
      'OUT_OF_STOCK',
      `cannot be sold now: ${unavailable.map((game) => `${games.get(game.gameId)!.name} (${game.reason})`).join(', ')}`,
      { games: unavailable },
    );
  }

  const lines = items.map((item) => {
    const game = games.get(item.gameId)!;
    return {
      gameId: game.id,
      name: game.name,
      g2aProductId: game.g2aProductId,
      quantity: item.quantity,
      unitPriceCents: game.priceCents,
      unitCostCents: game.costCents,
    };
  });
  const totalCents = orderTotalCents(lines);
  if (totalCents > balance) {
    throw new DomainError(
      'INSUFFICIENT_FUNDS',
      `the order costs ${totalCents} cents and the wallet holds ${balance}`,
      { totalCents, balanceCents: balance },
    );
  }

  const order = await scope.orders.insert({
    userId: input.userId,
    source: fromCart ? 'cart' : 'items',
    totalCents,
    lines,
  });
  await scope.wallets.record(input.userId, [
    { type: 'purchase', amountCents: -totalCents, orderId: order.id },
  ]);
  if (fromCart) await scope.carts.clear(owner);
  await invalidateOrder(scope, order, fromCart ? [cartCacheKey(owner)] : []);
  // Fulfilment buys each key at G2A; the units' rows keep how far each got.
  await scope.outbox.addAll(
    'g2a.fulfil',
    order.units.map((unit) => ({ unitId: unit.id })),
  );
  return order;
}

const accountGone = () => new DomainError('UNAUTHORIZED', 'the account of this token no longer exists');

const keyInUse = () =>
  new DomainError('IDEMPOTENCY_KEY_IN_USE', 'a request with this Idempotency-Key is still being processed', {
    field: 'idempotency-key',
  });

/** The request body in one canonical form: equal bodies hash alike, whatever the order of their items. */
function hashRequest(items: OrderItemRequest[] | undefined): string {
  const canonical = items
    ? items.map((item) => [item.gameId, item.quantity]).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0))
    : 'cart';
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
