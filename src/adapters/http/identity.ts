import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError } from '../../domain/errors.js';
import type { UserRole } from '../../domain/user.js';
import type { GuestSessionRepository } from '../../ports/tokens.js';
import type { UserReader } from '../../ports/users.js';
import type { Clock } from '../../ports/clock.js';

export interface AccessClaims {
  sub: string;
  role: UserRole;
}

/** Who a request acts for: a signed-in user, a guest session, or nobody. */
export type Owner = { kind: 'user'; userId: string } | { kind: 'guest'; sessionId: string };

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessClaims;
    user: AccessClaims;
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    requireUser: (request: FastifyRequest) => Promise<void>;
    requireAdmin: (request: FastifyRequest) => Promise<void>;
    requireOwner: (request: FastifyRequest) => Promise<void>;
    signAccessToken: (claims: AccessClaims) => Promise<{ accessToken: string; expiresIn: number }>;
  }
  interface FastifyRequest {
    owner?: Owner;
    /** The live guest session of `X-Session-Id`, when one came (also set for a signed-in user). */
    guestSessionId?: string;
  }
}

export interface IdentityOptions {
  jwtSecret: string;
  accessTokenTtlSeconds: number;
  guestSessions: GuestSessionRepository;
  guestSessionTtlMs: number;
  clock: Clock;
  /** Where an admin route reads the caller's role: the database, not the token (a demotion counts at once). */
  users: Pick<UserReader, 'findById'>;
}

const BEARER = /^Bearer\s+(\S+)$/i;

async function authenticate(request: FastifyRequest): Promise<void> {
  if (!request.headers.authorization) throw new DomainError('UNAUTHORIZED', 'a bearer token is required');
  if (!BEARER.test(request.headers.authorization))
    throw new DomainError('UNAUTHORIZED', 'malformed Authorization header');
  try {
    await request.jwtVerify();
  } catch {
    throw new DomainError('UNAUTHORIZED', 'the access token is invalid or expired');
  }
}

export const identityPlugin = fp(async (app: FastifyInstance, options: IdentityOptions) => {
  await app.register(fastifyJwt, {
    secret: options.jwtSecret,
    sign: { expiresIn: options.accessTokenTtlSeconds, algorithm: 'HS256' },
    verify: { algorithms: ['HS256'] },
  });

  app.decorate('signAccessToken', async (claims: AccessClaims) => ({
    accessToken: app.jwt.sign({ sub: claims.sub, role: claims.role }),
    expiresIn: options.accessTokenTtlSeconds,
  }));

  app.decorate('requireUser', async (request: FastifyRequest) => {
    await authenticate(request);
    request.owner = { kind: 'user', userId: request.user.sub };
  });

  app.decorate('requireAdmin', async (request: FastifyRequest) => {
    await authenticate(request);
    // The token's claim first (a customer's token never reaches the database), then the account as it is now.
    if (request.user.role !== 'admin' || (await options.users.findById(request.user.sub))?.role !== 'admin')
      throw new DomainError('FORBIDDEN', 'this route is for administrators');
  });

  /** A user when a bearer token comes (it wins), else a live guest session, else 401 SESSION_REQUIRED. */
  app.decorate('requireOwner', async (request: FastifyRequest) => {
    if (request.headers.authorization) {
      await authenticate(request);
      request.owner = { kind: 'user', userId: request.user.sub };
      return;
    }
    const sessionId = await liveGuestSession(request, options);
    if (!sessionId)
      throw new DomainError('SESSION_REQUIRED', 'sign in, or send X-Session-Id from POST /sessions');
    request.owner = { kind: 'guest', sessionId };
  });
});

/** The `X-Session-Id` of a request if it was issued and has not expired (extending it); else undefined. */
export async function liveGuestSession(
  request: FastifyRequest,
  options: Pick<IdentityOptions, 'guestSessions' | 'guestSessionTtlMs' | 'clock'>,
): Promise<string | undefined> {
  const header = request.headers['x-session-id'];
  const sessionId = Array.isArray(header) ? header[0] : header;
  if (!sessionId) return undefined;
  if (sessionId.length > 128 || !/^[A-Za-z0-9_-]+$/.test(sessionId)) {
    throw new DomainError('SESSION_REQUIRED', 'X-Session-Id is not a session of this shop');
  }
  const live = await options.guestSessions.touch(sessionId, options.clock.now(), options.guestSessionTtlMs);
  if (!live) throw new DomainError('SESSION_REQUIRED', 'the guest session is unknown or expired');
  request.guestSessionId = sessionId;
  return sessionId;
}
