import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { RegisterUserInput, SignedIn } from '../../../application/register-user.js';
import { normalizeEmail } from '../../../domain/user.js';
import type { Logger } from '../../../ports/logger.js';
import { takeAttempt, type AttemptLimits } from '../attempt-limits.js';
import { MergeReportSchema } from '../cart-schemas.js';
import { errors, UserSchema } from '../schemas.js';
import { toUserDto } from '../dto.js';

export interface AuthUseCases {
  registerUser(input: RegisterUserInput, log?: Logger): Promise<SignedIn>;
  loginUser(
    input: { email: string; password: string; guestSessionId?: string },
    log?: Logger,
  ): Promise<SignedIn>;
  refreshSession(refreshToken: string, log?: Logger): Promise<SignedIn>;
  logoutUser(refreshToken: string): Promise<void>;
  verifyEmail(token: string): Promise<void>;
}

export interface AuthRoutesOptions {
  useCases: AuthUseCases;
  limits: Pick<AttemptLimits, 'passwordWork' | 'signIns'>;
}

const AuthResponse = Type.Object({
  user: UserSchema,
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'Access token lifetime in seconds' }),
  merge: Type.Optional(MergeReportSchema),
});

const GuestSessionHeader = Type.Object({
  'x-session-id': Type.Optional(
    Type.String({
      description:
        'A guest session from POST /sessions: its cart and wishlist merge into the account (ignored with a bearer token)',
    }),
  ),
});

/** The e-mail as sign-in compares it (NFC, lower case), so spellings of one account share one count. */
function loginKeyOf(email: string): string {
  try {
    return normalizeEmail(email);
  } catch {
    return email.normalize('NFC').trim().toLowerCase();
  }
}

/** The guest session to merge: `X-Session-Id` without a bearer token (with one, the user owns the request). */
function guestSessionToMerge(request: FastifyRequest): string | undefined {
  if (request.headers.authorization) return undefined;
  const header = request.headers['x-session-id'];
  return (Array.isArray(header) ? header[0] : header) || undefined;
}

const Email = Type.String({ minLength: 3, maxLength: 254 });
const Password = Type.String({ minLength: 1, maxLength: 200, description: '8 to 72 bytes' });
const Name = Type.String({ maxLength: 100 });
const RefreshBody = Type.Object({ refreshToken: Type.String({ minLength: 1, maxLength: 200 }) });

export const authRoutes: FastifyPluginAsyncTypebox<AuthRoutesOptions> = async (app, { useCases, limits }) => {
  const takePasswordWork = takeAttempt(limits.passwordWork);
  // Per address and e-mail first: a refused guess at one account spends nothing of the address's allowance.
  const takeSignIn = takeAttempt(limits.signIns, (request) => {
    const email = (request.body as { email?: unknown } | undefined)?.email;
    return `${request.ip}:${typeof email === 'string' ? loginKeyOf(email) : ''}`;
  });
  const PASSWORD_WORK_LIMIT =
    'Sign-ups and failed sign-ins are limited per client address (`AUTH_RATE_LIMIT_PER_IP` a minute, default 30): beyond it 429 `RATE_LIMITED` with `Retry-After`.';
  const signedIn = async (result: SignedIn) => {
    const access = await app.signAccessToken({ sub: result.user.id, role: result.user.role });
    return {
      user: toUserDto(result.user),
      refreshToken: result.refreshToken,
      ...access,
      ...(result.merge ? { merge: result.merge } : {}),
    };
  };

  app.post(
    '/auth/register',
    {
      preHandler: takePasswordWork,
      schema: {
        tags: ['auth'],
        summary: 'Create an account and sign in',
        description: PASSWORD_WORK_LIMIT,
        headers: GuestSessionHeader,
        body: Type.Object({
          email: Email,
          password: Password,
          nickname: Type.Optional(Name),
          firstName: Type.Optional(Name),
          lastName: Type.Optional(Name),
        }),
        response: { 201: AuthResponse, ...errors(400, 401, 409, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      const result = await useCases.registerUser(
        { ...request.body, guestSessionId: guestSessionToMerge(request) },
        request.log,
      );
      return reply.status(201).send(await signedIn(result));
    },
  );

  app.post(
    '/auth/login',
    {
      preHandler: [takeSignIn, takePasswordWork],
      schema: {
        tags: ['auth'],
        summary: 'Sign in with e-mail and password',
        description: `${PASSWORD_WORK_LIMIT} Each e-mail is also limited per address (\`LOGIN_RATE_LIMIT\` attempts per 15 minutes).`,
        headers: GuestSessionHeader,
        body: Type.Object({ email: Email, password: Password }),
        response: { 200: AuthResponse, ...errors(400, 401, 429) },
      },
    },
    async (request) => {
      const result = await useCases.loginUser(
        { ...request.body, guestSessionId: guestSessionToMerge(request) },
        request.log,
      );
      // Only failed sign-ins count against the address: a successful one gives its attempt back.
      await limits.passwordWork.giveBack(request.ip);
      return signedIn(result);
    },
  );

  app.post(
    '/auth/refresh',
    {
      schema: {
        tags: ['auth'],
        summary: 'Trade a refresh token for a new token pair (the old one is spent)',
        body: RefreshBody,
        response: { 200: AuthResponse, ...errors(400, 401) },
      },
    },
    async (request) => signedIn(await useCases.refreshSession(request.body.refreshToken, request.log)),
  );

  app.post(
    '/auth/logout',
    {
      schema: {
        tags: ['auth'],
        summary: 'Revoke the refresh token and its whole family',
        body: RefreshBody,
        response: { 204: Type.Null(), ...errors(400) },
      },
    },
    async (request, reply) => {
      await useCases.logoutUser(request.body.refreshToken);
      return reply.status(204).send(null);
    },
  );

  // The link of the confirmation e-mail: opening it confirms the address.
  app.get(
    '/auth/verify-email',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm the e-mail address from the link of the confirmation e-mail',
        querystring: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: Type.Object({ verified: Type.Literal(true) }), ...errors(400) },
      },
    },
    async (request) => {
      await useCases.verifyEmail(request.query.token);
      return { verified: true as const };
    },
  );

  app.post(
    '/auth/verify-email',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm the e-mail address with the token from the confirmation e-mail',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 204: Type.Null(), ...errors(400) },
      },
    },
    async (request, reply) => {
      await useCases.verifyEmail(request.body.token);
      return reply.status(204).send(null);
    },
  );
};
