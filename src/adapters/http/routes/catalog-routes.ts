import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { GameView } from '../../../application/catalog-views.js';
import type { HomeView } from '../../../application/get-home.js';
import type { CatalogQuery, Page, TaxonomyRef } from '../../../domain/game.js';
import type { Json } from '../../../ports/cache.js';
import type { TaxonomyKind } from '../../../ports/catalog.js';
import { sendJson } from '../send-json.js';
import { errors, MAX_PAGE, MAX_PRICE_CENTS } from '../schemas.js';

export interface CatalogUseCases {
  listGames(query: CatalogQuery): Promise<Json<Page<GameView>>>;
  getGame(idOrSlug: string): Promise<Json<GameView>>;
  getHome(): Promise<Json<HomeView>>;
  listTaxonomy(kind: TaxonomyKind): Promise<TaxonomyRef[]>;
}

const Taxonomy = Type.Object({ slug: Type.String(), name: Type.String() });

export const GameSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    slug: Type.String(),
    name: Type.String(),
    priceCents: Type.Integer({ description: 'Retail price: G2A cost plus the markup, in cents' }),
    currency: Type.String(),
    inStock: Type.Boolean(),
    delisted: Type.Boolean(),
    platform: Type.Union([Type.String(), Type.Null()]),
    platformSlug: Type.Union([Type.String(), Type.Null()]),
    region: Type.Union([Type.String(), Type.Null()]),
    g2aProductId: Type.String(),
    thumbnail: Type.Union([Type.String(), Type.Null()]),
    coverImage: Type.Union([Type.String(), Type.Null()]),
    description: Type.Union([Type.String(), Type.Null()]),
    releaseDate: Type.Union([Type.String(), Type.Null()]),
    categories: Type.Array(Taxonomy),
    genres: Type.Array(Taxonomy),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'Game' },
);
const GameRef = Type.Ref('Game');

const Slug = Type.String({ minLength: 1, maxLength: 120, pattern: '^[a-z0-9-]+$' });
const GamesQuery = Type.Object({
  page: Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: 1 }),
  pageSize: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  q: Type.Optional(Type.String({ maxLength: 100 })),
  platform: Type.Optional(Slug),
  region: Type.Optional(Slug),
  category: Type.Optional(Slug),
  genre: Type.Optional(Slug),
  minPriceCents: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PRICE_CENTS })),
  maxPriceCents: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_PRICE_CENTS })),
  inStock: Type.Optional(Type.Boolean()),
  sort: Type.Optional(
    Type.Union([
      Type.Literal('price_asc'),
      Type.Literal('price_desc'),
      Type.Literal('name'),
      Type.Literal('newest'),
      Type.Literal('popular'),
    ]),
  ),
});

export const catalogRoutes: FastifyPluginAsyncTypebox<{ useCases: CatalogUseCases }> = async (
  app,
  { useCases },
) => {
  app.get(
    '/games',
    {
      schema: {
        tags: ['catalogue'],
        summary: 'Browse the catalogue: filters, sort and pages (delisted games are left out)',
        querystring: GamesQuery,
        response: {
          200: Type.Object({
            items: Type.Array(GameRef),
            page: Type.Integer(),
            pageSize: Type.Integer(),
            total: Type.Integer(),
          }),
          ...errors(400),
        },
      },
    },
    async (request, reply) => sendJson(reply, await useCases.listGames(request.query)),
  );

  app.get(
    '/games/:idOrSlug',
    {
      schema: {
        tags: ['catalogue'],
        summary: 'One game by id or slug (a delisted game answers delisted: true)',
        params: Type.Object({ idOrSlug: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: GameRef, ...errors(404) },
      },
    },
    async (request, reply) => sendJson(reply, await useCases.getGame(request.params.idOrSlug)),
  );

  app.get(
    '/home',
    {
      schema: {
        tags: ['catalogue'],
        summary: 'Home page sections',
        response: {
          200: Type.Object({
            bestSellers: Type.Array(GameRef),
            newReleases: Type.Array(GameRef),
            deals: Type.Array(GameRef),
          }),
        },
      },
    },
    async (_request, reply) => sendJson(reply, await useCases.getHome()),
  );

  for (const kind of ['categories', 'genres', 'platforms'] as const) {
    app.get(
      `/${kind}`,
      {
        schema: {
          tags: ['catalogue'],
          summary: `The ${kind}; their slugs are the /games filters`,
          response: { 200: Type.Object({ items: Type.Array(Taxonomy) }) },
        },
      },
      async () => ({ items: await useCases.listTaxonomy(kind) }),
    );
  }
};
