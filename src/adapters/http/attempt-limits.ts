import type { FastifyRequest } from 'fastify';
import type { AttemptLimiter } from '../../ports/attempt-limiter.js';

/** The per-address limits of work an anonymous client can make the shop do. */
export interface AttemptLimits {
  /** `AUTH_RATE_LIMIT_PER_IP`: sign-ups and failed sign-ins (bcrypt work) per client address per minute. */
  passwordWork: AttemptLimiter;
  /** `LOGIN_RATE_LIMIT`: sign-in attempts per client address and e-mail per 15 minutes. */
  signIns: AttemptLimiter;
  /** `GUEST_SESSION_RATE_LIMIT_PER_IP`: guest sessions started (rows stored) per client address per minute. */
  guestSessions: AttemptLimiter;
}

/** A 429 `RATE_LIMITED` with `Retry-After`, as the error handler renders the rate limit plugin's. */
export function rateLimited(retryAfterSeconds: number): Error {
  return Object.assign(new Error(`too many requests from this address; retry in ${retryAfterSeconds} s`), {
    statusCode: 429,
    code: 'RATE_LIMITED',
    retryAfterSeconds,
  });
}

/**
 * A `preHandler` that takes one attempt from `limiter` under the request's key (its client address unless
 * `keyOf` says otherwise), or refuses with 429.
 */
export function takeAttempt(
  limiter: AttemptLimiter,
  keyOf: (request: FastifyRequest) => string = (r) => r.ip,
) {
  return async (request: FastifyRequest): Promise<void> => {
    const verdict = await limiter.take(keyOf(request));
    if (!verdict.allowed) throw rateLimited(verdict.retryAfterSeconds);
  };
}
