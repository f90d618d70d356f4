import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AddCartItemInput, AddCartItemOutput } from '../../../application/add-cart-item.js';
import type { RemoveCartItemInput } from '../../../application/remove-cart-item.js';
import type { SetCartItemQuantityInput } from '../../../application/set-cart-item-quantity.js';
import { MAX_QTY_PER_GAME, type Cart, type CartOwner } from '../../../domain/cart.js';
import { CartSchema, GameIdParams } from '../cart-schemas.js';
import { errors, Uuid } from '../schemas.js';

export interface CartUseCases {
  getCart(owner: CartOwner): Promise<Cart>;
  addCartItem(input: AddCartItemInput): Promise<AddCartItemOutput>;
  setCartItemQuantity(input: SetCartItemQuantityInput): Promise<Cart>;
  removeCartItem(input: RemoveCartItemInput): Promise<void>;
  clearCart(owner: CartOwner): Promise<void>;
}

const ownerSecurity: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { guestSession: [] }];

const QUANTITY_RULE = `Whole units, at least 1 (else 400); a cart holds at most ${MAX_QTY_PER_GAME} of one game (more is 422 QUANTITY_LIMIT)`;
const Quantity = Type.Integer({ minimum: 1, description: QUANTITY_RULE });
const AddedQuantity = Type.Integer({ minimum: 1, default: 1, description: QUANTITY_RULE });

export const cartRoutes: FastifyPluginAsyncTypebox<{ useCases: CartUseCases }> = async (
  app,
  { useCases },
) => {
  app.get(
    '/cart',
    {
      onRequest: app.requireOwner,
      schema: {
        tags: ['cart'],
        summary: 'The cart of the signed-in user or guest session, at current prices',
        security: ownerSecurity,
        response: { 200: CartSchema, ...errors(401) },
      },
    },
    async (request) => useCases.getCart(request.owner!),
  );

  app.post(
    '/cart/items',
    {
      onRequest: app.requireOwner,
      schema: {
        tags: ['cart'],
        summary: 'Add units of a game (201 new line, 200 more of a line already in the cart)',
        security: ownerSecurity,
        body: Type.Object({ gameId: Uuid, quantity: Type.Optional(AddedQuantity) }),
        response: {
          200: CartSchema,
          201: CartSchema,
          ...errors(400, 401, 404, 409, 413, 415, 422),
        },
      },
    },
    async (request, reply) => {
      const { cart, created } = await useCases.addCartItem({
        owner: request.owner!,
        gameId: request.body.gameId,
        quantity: request.body.quantity ?? 1,
      });
      return reply.status(created ? 201 : 200).send(cart);
    },
  );

  app.patch(
    '/cart/items/:gameId',
    {
      onRequest: app.requireOwner,
      schema: {
        tags: ['cart'],
        summary: 'Set the quantity of a game already in the cart',
        security: ownerSecurity,
        params: GameIdParams,
        body: Type.Object({ quantity: Quantity }),
        response: { 200: CartSchema, ...errors(400, 401, 404, 409, 413, 415, 422) },
      },
    },
    async (request) =>
      useCases.setCartItemQuantity({
        owner: request.owner!,
        gameId: request.params.gameId,
        quantity: request.body.quantity,
      }),
  );

  app.delete(
    '/cart/items/:gameId',
    {
      onRequest: app.requireOwner,
      schema: {
        tags: ['cart'],
        summary: 'Remove a game from the cart (204 also when it was not there)',
        security: ownerSecurity,
        params: GameIdParams,
        response: { 204: Type.Null(), ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      await useCases.removeCartItem({ owner: request.owner!, gameId: request.params.gameId });
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/cart',
    {
      onRequest: app.requireOwner,
      schema: {
        tags: ['cart'],
        summary: 'Empty the cart',
        security: ownerSecurity,
        response: { 204: Type.Null(), ...errors(401) },
      },
    },
    async (request, reply) => {
      await useCases.clearCart(request.owner!);
      return reply.status(204).send(null);
    },
  );
};
