import { Type, type TSchema } from 'typebox';

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable SCREAMING_SNAKE error code' }),
    error: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'The offending field, for validation errors' })),
    details: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          description:
            'What the refusal is about: the games out of stock, the amount missing, the run in progress',
        },
      ),
    ),
  },
  { $id: 'ErrorResponse' },
);

export const errorRef = Type.Ref('ErrorResponse');

/** `response` entries for the given error statuses, all with the shared error body. */
export function errors(...statuses: number[]): Record<number, TSchema> {
  return Object.fromEntries(statuses.map((status) => [status, errorRef]));
}

export const Uuid = Type.String({ format: 'uuid' });

const DEFAULT_PAGE = 1;
const DEFAULT_PAGE_SIZE = 20;
/** Pages beyond this are refused (400): no list is that long, and an offset must stay a sane number. */
export const MAX_PAGE = 100_000;
/** The largest price a filter may name: far above any game, well inside PostgreSQL's integer. */
export const MAX_PRICE_CENTS = 100_000_000;

/** `page` and `pageSize`, both optional (the defaults are filled in during validation). */
export const Pagination = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE })),
  pageSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_PAGE_SIZE })),
});

/** The page a validated `Pagination` query asks for. */
export const pageOf = (query: { page?: number; pageSize?: number }) => ({
  page: query.page ?? DEFAULT_PAGE,
  pageSize: query.pageSize ?? DEFAULT_PAGE_SIZE,
});

export const UserSchema = Type.Object({
  id: Uuid,
  email: Type.String(),
  nickname: Type.Union([Type.String(), Type.Null()]),
  firstName: Type.Union([Type.String(), Type.Null()]),
  lastName: Type.Union([Type.String(), Type.Null()]),
  role: Type.Union([Type.Literal('customer'), Type.Literal('admin')]),
  emailVerified: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
});

export const ProfileSchema = Type.Intersect([UserSchema, Type.Object({ balanceCents: Type.Integer() })]);

/** Marks a route whose body may be left out (it fills in `{}` before validation); the document says so. */
export const OPTIONAL_BODY = 'x-optional-body';

/** A `preValidation` hook for an `OPTIONAL_BODY` route: a request without a body is taken as `{}`. */
export async function noBodyIsEmpty(request: { body: unknown }): Promise<void> {
  if (request.body === undefined) request.body = {};
}
