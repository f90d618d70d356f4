import { Type } from 'typebox';
import { MAX_QTY_PER_GAME } from '../../domain/cart.js';
import { IDEMPOTENCY_KEY_PATTERN } from '../../domain/idempotency.js';
import { MAX_TOP_UP_CENTS } from '../../domain/ledger.js';
import { MAX_ORDER_LINES, ORDER_STATUSES } from '../../domain/order.js';
import { MAX_REFERENCE_LENGTH } from '../../application/top-up-wallet.js';
import { Uuid } from './schemas.js';

const Cents = Type.Integer({ minimum: 0 });

export const OrderIdParams = Type.Object({ id: Uuid });

export const OrderItemSchema = Type.Object({
  gameId: Uuid,
  name: Type.String({ description: 'The game as it was called at checkout' }),
  quantity: Type.Integer({ minimum: 1, maximum: MAX_QTY_PER_GAME }),
  unitPriceCents: Type.Integer({ minimum: 0, description: 'The price charged for one unit' }),
  delivered: Type.Integer({ minimum: 0, description: 'Units whose key was delivered' }),
  refunded: Type.Integer({ minimum: 0, description: 'Units refunded to the wallet' }),
  keys: Type.Optional(
    Type.Array(Type.String(), { description: 'The delivered keys; only in GET /orders/{id}, for the owner' }),
  ),
});

export const OrderSchema = Type.Object(
  {
    id: Uuid,
    status: Type.Union(
      ORDER_STATUSES.map((status) => Type.Literal(status)),
      {
        description: 'paid → processing → completed, or refunded / partially_refunded',
      },
    ),
    totalCents: Cents,
    refundedCents: Type.Integer({ minimum: 0, description: 'What went back to the wallet so far' }),
    currency: Type.String(),
    items: Type.Array(OrderItemSchema),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Order' },
);

export const OrderRef = Type.Ref('Order');

export const AdminOrderSchema = Type.Intersect([OrderRef, Type.Object({ userId: Uuid })]);

export const OrderPageSchema = Type.Object({
  items: Type.Array(OrderRef, { description: 'Newest first, without keys' }),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
});

export const PlaceOrderBody = Type.Object({
  items: Type.Optional(
    Type.Array(
      Type.Object({
        gameId: Uuid,
        quantity: Type.Integer({
          minimum: 1,
          description: `Whole units, at least 1 (else 400); at most ${MAX_QTY_PER_GAME} (more is 422 QUANTITY_LIMIT)`,
        }),
      }),
      {
        maxItems: MAX_ORDER_LINES,
        description:
          'Order these games (the cart stays as it is); without `items` the cart is ordered and emptied',
      },
    ),
  ),
});

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.String({
    pattern: IDEMPOTENCY_KEY_PATTERN,
    description:
      'Required. Unique per checkout (a UUID): a retry with the same key and body answers the first response ' +
      'without a second charge, for 24 hours',
  }),
});

export const LedgerEntrySchema = Type.Object({
  id: Uuid,
  type: Type.Union([Type.Literal('top_up'), Type.Literal('purchase'), Type.Literal('refund')]),
  amountCents: Type.Integer({ description: 'Signed: credits positive, purchases negative' }),
  balanceAfterCents: Type.Integer({ minimum: 0 }),
  orderId: Type.Union([Uuid, Type.Null()]),
  reference: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
});

export const LedgerPageSchema = Type.Object({
  items: Type.Array(LedgerEntrySchema, { description: 'Newest first' }),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
});

export const TopUpBody = Type.Object({
  amountCents: Type.Integer({ minimum: 1, maximum: MAX_TOP_UP_CENTS, description: 'Whole cents to credit' }),
  reference: Type.String({
    minLength: 1,
    maxLength: MAX_REFERENCE_LENGTH,
    description: 'The payment reference, unique across users; a replay with it credits nothing more',
  }),
});

export const TopUpSchema = Type.Intersect([LedgerEntrySchema, Type.Object({ userId: Uuid })]);

export const RefundBody = Type.Object({
  all: Type.Optional(
    Type.Boolean({
      default: false,
      description: 'Also refund delivered units (default: only undelivered ones)',
    }),
  ),
});
