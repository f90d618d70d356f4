import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AddWishlistItemInput, AddWishlistItemOutput } from '../../../application/add-wishlist-item.js';
import type { GetWishlistInput, GetWishlistOutput } from '../../../application/get-wishlist.js';
import type { RemoveWishlistItemInput } from '../../../application/remove-wishlist-item.js';
import { GameIdParams, WishlistPageSchema } from '../cart-schemas.js';
import { errors, pageOf, Pagination } from '../schemas.js';

export interface WishlistUseCases {
  getWishlist(input: GetWishlistInput): Promise<GetWishlistOutput>;
  addWishlistItem(input: AddWishlistItemInput): Promise<AddWishlistItemOutput>;
  removeWishlistItem(input: RemoveWishlistItemInput): Promise<void>;
}

const ownerSecurity: { [scheme: string]: string[] }[] = [{ bearerAuth: [] }, { guestSession: [] }];

export const wishlistRoutes: FastifyPluginAsyncTypebox<{ useCases: WishlistUseCases }> = async (
  app,
  { useCases },
) => {
  app.get(
    '/wishlist',
    {
      onRequest: app.requireOwner,
      schema: {
        tags: ['wishlist'],
        summary: 'The wishlist of the signed-in user or guest session, newest first, at current prices',
        security: ownerSecurity,
        querystring: Pagination,
        response: { 200: WishlistPageSchema, ...errors(400, 401) },
      },
    },
    async (request) =>
      useCases.getWishlist({
        owner: request.owner!,
        ...pageOf(request.query),
      }),
  );

  app.put(
    '/wishlist/:gameId',
    {
      onRequest: app.requireOwner,
      schema: {
        tags: ['wishlist'],
        summary: 'Wishlist a game (idempotent: 204 whether or not it already was)',
        security: ownerSecurity,
        params: GameIdParams,
        response: { 204: Type.Null(), ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      await useCases.addWishlistItem({ owner: request.owner!, gameId: request.params.gameId });
      return reply.status(204).send(null);
    },
  );

  app.delete(
    '/wishlist/:gameId',
    {
      onRequest: app.requireOwner,
      schema: {
        tags: ['wishlist'],
        summary: 'Take a game off the wishlist (idempotent: 204 whether or not it was there)',
        security: ownerSecurity,
        params: GameIdParams,
        response: { 204: Type.Null(), ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      await useCases.removeWishlistItem({ owner: request.owner!, gameId: request.params.gameId });
      return reply.status(204).send(null);
    },
  );
};
