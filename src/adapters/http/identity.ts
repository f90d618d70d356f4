import fastifyJwt from '@fastify/jwt';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { DomainError } from '../../domain/errors.js';
import type { UserRole } from '../../domain/user.js';
import type { GuestSessionRepository } from '../../ports/tokens.js';
import type { UserReader } from '../../ports/users.js';
import type { Clock } from '../../ports/clock.js';
import { UUID } from './validation.js';

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
  /**
   * Where every authenticated request reads its account as it is now: a token of a deleted account, or one
   * issued before the account was taken over, is refused; an admin route reads the role here, not from the
   * token (a demotion counts at once).
   */
  users: Pick<UserReader, 'findAccess'>;
}

const BEARER = /^Bearer\s+(\S+)$/i;

/** How far a token's times may be off the shop's clock (several processes, several clocks). */
const CLOCK_SKEW_SECONDS = 60;

const invalidToken = () => new DomainError('UNAUTHORIZED', 'the access token is invalid or expired');

/**
 * A valid token (signature, `exp` present and not past, `sub` a user id) of an account that still exists and
 * was not taken over after the token was issued; answers the account's role as it is now.
 */
async function authenticate(
  request: FastifyRequest,
  users: IdentityOptions['users'],
  ttlSeconds: number,
): Promise<UserRole> {
  if (!request.headers.authorization) throw new DomainError('UNAUTHORIZED', 'a bearer token is required');
  if (!BEARER.test(request.headers.authorization))
    throw new DomainError('UNAUTHORIZED', 'malformed Authorization header');
  try {
    await request.jwtVerify();
  } catch {
    throw invalidToken();
  }
  const { sub, iat, exp } = request.user as AccessClaims & { iat?: unknown; exp?: unknown };
  if (typeof sub !== 'string' || !UUID.test(sub) || typeof iat !== 'number' || typeof exp !== 'number')
    throw invalidToken();
  // Never issued by the shop: dated in the future (it would outlive a take-over) or longer-lived than its tokens.
  if (iat > Date.now() / 1000 + CLOCK_SKEW_SECONDS || exp - iat > ttlSeconds + CLOCK_SKEW_SECONDS)
    throw invalidToken();
  const access = await users.findAccess(sub.toLowerCase());
  if (!access) throw new DomainError('UNAUTHORIZED', 'the account of this token no longer exists');
  // `iat` has whole seconds: a token of the very second of a take-over is still honoured.
  if (access.sessionsValidAfter && iat < Math.floor(access.sessionsValidAfter.getTime() / 1000))
    throw new DomainError('UNAUTHORIZED', 'this session was ended; sign in again');
  return access.role;
}

export const identityPlugin = fp(async (app: FastifyInstance, options: IdentityOptions) => {
  await app.register(fastifyJwt, {
    secret: options.jwtSecret,
    sign: { expiresIn: options.accessTokenTtlSeconds, algorithm: 'HS256' },
    // A token without an expiry would be good for ever: `exp` (and `sub`, `iat`) are required.
    verify: { algorithms: ['HS256'], requiredClaims: ['exp', 'iat', 'sub'] },
  });

  app.decorate('signAccessToken', async (claims: AccessClaims) => ({
    accessToken: app.jwt.sign({ sub: claims.sub, role: claims.role }),
    expiresIn: options.accessTokenTtlSeconds,
  }));

  app.decorate('requireUser', async (request: FastifyRequest) => {
    await authenticate(request, options.users, options.accessTokenTtlSeconds);
    request.owner = { kind: 'user', userId: request.user.sub };
  });

  app.decorate('requireAdmin', async (request: FastifyRequest) => {
    // The role as the account has it now, not as the token says.
    if ((await authenticate(request, options.users, options.accessTokenTtlSeconds)) !== 'admin')
      throw new DomainError('FORBIDDEN', 'this route is for administrators');
  });

  /** A user when a bearer token comes (it wins), else a live guest session, else 401 SESSION_REQUIRED. */
  app.decorate('requireOwner', async (request: FastifyRequest) => {
    if (request.headers.authorization) {
      await authenticate(request, options.users, options.accessTokenTtlSeconds);
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
