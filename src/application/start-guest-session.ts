import type { Clock } from '../ports/clock.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { newOpaqueToken } from './auth-tokens.js';

export const GUEST_SESSION_TTL_MS = 30 * 24 * 3600 * 1000;

/** A guest session id: 256 random bits, so ids cannot be guessed or enumerated. */
export async function startGuestSession(deps: {
  uow: UnitOfWork;
  clock: Clock;
}): Promise<{ sessionId: string }> {
  const sessionId = newOpaqueToken(32);
  const expiresAt = new Date(deps.clock.now().getTime() + GUEST_SESSION_TTL_MS);
  await deps.uow.run((scope) => scope.guestSessions.insert({ id: sessionId, expiresAt }));
  return { sessionId };
}
