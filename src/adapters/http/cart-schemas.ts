import { Type } from 'typebox';
import { MAX_QTY_PER_GAME } from '../../domain/cart.js';
import { Uuid } from './schemas.js';

const Cents = Type.Integer({ minimum: 0 });

export const GameIdParams = Type.Object({ gameId: Uuid });

export const CartSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      gameId: Uuid,
      name: Type.String(),
      slug: Type.String(),
      thumbnail: Type.Union([Type.String(), Type.Null()]),
      quantity: Type.Integer({ minimum: 1, maximum: MAX_QTY_PER_GAME }),
      unitPriceCents: Type.Integer({
        minimum: 0,
        description: 'The current price: the price checkout charges',
      }),
      lineTotalCents: Cents,
      inStock: Type.Boolean(),
      delisted: Type.Boolean(),
    }),
  ),
  totalCents: Type.Integer({ minimum: 0, description: 'Sum of every line at current prices' }),
  currency: Type.String({ description: 'ISO 4217; the shop sells in EUR' }),
});

export const WishlistPageSchema = Type.Object({
  items: Type.Array(
    Type.Object({
      gameId: Uuid,
      name: Type.String(),
      slug: Type.String(),
      thumbnail: Type.Union([Type.String(), Type.Null()]),
      priceCents: Cents,
      currency: Type.String(),
      inStock: Type.Boolean(),
      delisted: Type.Boolean(),
      addedAt: Type.String({ format: 'date-time' }),
    }),
  ),
  page: Type.Integer(),
  pageSize: Type.Integer(),
  total: Type.Integer(),
});

export const MergeReportSchema = Type.Object(
  {
    cart: Type.Object({
      merged: Type.Integer({ description: 'Guest lines moved into the account cart' }),
      skipped: Type.Array(
        Type.Object({
          gameId: Uuid,
          reason: Type.Union([Type.Literal('out_of_stock'), Type.Literal('delisted')]),
        }),
        { description: 'Guest lines left on the guest session; they merge at a later sign-in' },
      ),
      capped: Type.Array(Type.Object({ gameId: Uuid, requested: Type.Integer(), quantity: Type.Integer() }), {
        description: `Merged games whose summed quantity was cut to the per-game maximum of ${MAX_QTY_PER_GAME}`,
      }),
    }),
    wishlist: Type.Object({
      merged: Type.Integer({ description: 'Guest wishlist entries moved into the account wishlist' }),
      skipped: Type.Array(Type.Object({ gameId: Uuid, reason: Type.Literal('already_in_wishlist') }), {
        description: 'Games the account had already wishlisted; they stay on the guest session',
      }),
    }),
    error: Type.Optional(
      Type.Object(
        { code: Type.String(), message: Type.String() },
        { description: 'The merge failed and changed nothing; the sign-in itself succeeded' },
      ),
    ),
  },
  { description: 'Present when X-Session-Id came without a bearer token: the guest cart and wishlist merge' },
);
