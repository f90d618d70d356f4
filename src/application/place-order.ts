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
 * Checks out the user's cart, or an explicit item list, paid from the wallet, under an `Idempotency-Key`:
 * the same key and body answer the first response byte for byte and charge once; another body is
 * IDEMPOTENCY_KEY_REUSED; a request with the key still running is IDEMPOTENCY_KEY_IN_USE. A refusal
 * (CART_EMPTY, QUANTITY_LIMIT, GAME_NOT_FOUND, OUT_OF_STOCK, INSUFFICIENT_FUNDS) is not stored: it changed
 * nothing, and the key may be sent again once the cause is gone (a top-up, a restock).
 *
 * One transaction takes the key (a lock that lasts as long as the transaction, so a crash leaves nothing
 * held), locks the wallet, re-reads every game under a share lock at its current price, writes the order
 * (`paid`) with its lines and units, debits the wallet with a `purchase` entry, empties the cart when ordering
 * from it, writes the invalidations and the fulfilment messages, and stores the response — all or nothing.
 */
export async function placeOrder(deps: PlaceOrderDeps, input: PlaceOrderInput): Promise<PlaceOrderOutput> {
  const started = performance.now();
  const items = input.items?.map((item) => ({ ...item, gameId: item.gameId.toLowerCase() }));
  if (items) assertOrderItems(items);
  const requestHash = hashRequest(items);
  const log = deps.logger.child({ operation: 'order.place', userId: input.userId });
  try {
    // A second round only when another request with the key stored its answer in the instant between this
    // one's read and its lock: the second round finds that answer.
    for (let round = 1; ; round++) {
      const outcome = await deps.uow
        .run(async (scope): Promise<Attempted> => {
          const now = deps.clock.now();
          const key = await scope.idempotency.acquire(input.userId, input.idempotencyKey, now);
          if (!key.held) throw keyInUse();
          if (key.stored) {
            if (key.stored.requestHash !== requestHash) throw keyReused();
            return { replayed: key.stored.response };
          }
          const placed = await checkOut(scope, { ...input, items });
          const body = JSON.stringify(toOrderView(placed)) as Json<OrderView>;
          const stored = await scope.idempotency.store(
            input.userId,
            input.idempotencyKey,
            { requestHash, response: { status: 201, body } },
            now,
          );
          if (!stored) throw new KeyStoredMeanwhile();
          return { placed, body };
        })
        .catch((error: unknown) => {
          if (error instanceof KeyStoredMeanwhile && round < 2) return 'again' as const;
          throw error;
        });
      if (outcome === 'again') continue;
      if ('replayed' in outcome) {
        return {
          status: outcome.replayed.status,
          body: outcome.replayed.body as Json<OrderView>,
          replayed: true,
        };
      }
      log.info(
        {
          outcome: 'placed',
          orderId: outcome.placed.id,
          units: outcome.placed.units.length,
          totalCents: outcome.placed.totalCents,
          source: outcome.placed.source,
          durationMs: Math.round((performance.now() - started) * 100) / 100,
        },
        'order placed',
      );
      return { status: 201, body: outcome.body, replayed: false };
    }
  } catch (error) {
    if (error instanceof DomainError) {
      log.info(
        { outcome: 'refused', code: error.code, durationMs: Math.round(performance.now() - started) },
        error.message,
      );
    }
    throw error;
  }
}

type Attempted = { placed: Order; body: Json<OrderView> } | { replayed: { status: number; body: string } };

/** Another request with the key stored its answer while this one ran: this one rolls back and reads it. */
class KeyStoredMeanwhile extends Error {}

async function checkOut(scope: TransactionScope, input: PlaceOrderInput): Promise<Order> {
  const owner: CartOwner = { kind: 'user', userId: input.userId };
  const fromCart = input.items === undefined;
  // The wallet first (checkouts, cart changes and merges of this user wait for this one), then the cart's
  // lines, then the games under a share lock: one statement.
  const locked = await scope.orders.lockForCheckout(
    input.userId,
    fromCart ? { cart: true } : { items: input.items! },
  );
  const balance = locked.balanceCents;
  if (balance === null) throw accountGone();
  const items: OrderItemRequest[] = locked.lines;
  if (items.length === 0) throw new DomainError('CART_EMPTY', 'the cart is empty');
  if (fromCart && items.length > MAX_ORDER_LINES) {
    throw new DomainError(
      'QUANTITY_LIMIT',
      `an order holds at most ${MAX_ORDER_LINES} different games; the cart has ${items.length}`,
    );
  }

  const games = locked.games;
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
  // The lines ordered, and only those (the cart's lines are locked: nothing else can be there).
  if (fromCart)
    await scope.carts.remove(
      owner,
      lines.map((line) => line.gameId),
    );
  await invalidateOrder(scope, order, fromCart ? [cartCacheKey(owner)] : []);
  // Fulfilment buys each key at G2A; the units' rows keep how far each got.
  await scope.outbox.addAll(
    'g2a.fulfil',
    order.units.map((unit) => ({ unitId: unit.id })),
  );
  return order;
}

const accountGone = () => new DomainError('UNAUTHORIZED', 'the account of this token no longer exists');

const keyReused = () =>
  new DomainError('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used with another request body', {
    field: 'idempotency-key',
  });

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
