import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { TOUCH_GRANULARITY_MS } from '../../src/adapters/memory/in-memory-guest-session-repository.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { GUEST_SESSION_TTL_MS, startGuestSession } from '../../src/application/start-guest-session.js';

const DAY_MS = 24 * 3600 * 1000;

function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const uow = new InMemoryUnitOfWork({ clock });
  const sessions = uow.repositories.guestSessions;
  const touch = (sessionId: string) => sessions.touch(sessionId, clock.now(), GUEST_SESSION_TTL_MS);
  return { clock, uow, sessions, touch };
}

describe('startGuestSession', () => {
  it('stores a session of 256 random bits that lives 30 days', async () => {
    const { uow, clock, sessions } = setup();

    const { sessionId } = await startGuestSession({ uow, clock });
    const other = await startGuestSession({ uow, clock });

    expect(GUEST_SESSION_TTL_MS).toBe(30 * DAY_MS);
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(other.sessionId).not.toBe(sessionId);
    expect(await sessions.expiresAt(sessionId)).toEqual(
      new Date(clock.now().getTime() + GUEST_SESSION_TTL_MS),
    );
  });

  it('expires a session nobody uses for 30 days', async () => {
    const { uow, clock, touch } = setup();
    const { sessionId } = await startGuestSession({ uow, clock });

    clock.advance(GUEST_SESSION_TTL_MS - 1);
    expect(await touch(sessionId)).toBe(true);

    const idle = await startGuestSession({ uow, clock });
    clock.advance(GUEST_SESSION_TTL_MS);
    expect(await touch(idle.sessionId)).toBe(false);
  });

  it('slides the expiry forward while the session is used', async () => {
    const { uow, clock, sessions, touch } = setup();
    const { sessionId } = await startGuestSession({ uow, clock });

    for (let day = 0; day < 120; day += 20) {
      clock.advance(20 * DAY_MS);
      expect(await touch(sessionId)).toBe(true);
      expect(await sessions.expiresAt(sessionId)).toEqual(
        new Date(clock.now().getTime() + GUEST_SESSION_TTL_MS),
      );
    }

    clock.advance(GUEST_SESSION_TTL_MS);
    expect(await touch(sessionId)).toBe(false);
  });

  it('writes the sliding expiry at most once a day', async () => {
    const { uow, clock, sessions, touch } = setup();
    const { sessionId } = await startGuestSession({ uow, clock });
    const issuedExpiry = await sessions.expiresAt(sessionId);

    clock.advance(TOUCH_GRANULARITY_MS);
    expect(await touch(sessionId)).toBe(true);
    expect(await sessions.expiresAt(sessionId)).toEqual(issuedExpiry);

    clock.advance(1);
    expect(await touch(sessionId)).toBe(true);
    expect(await sessions.expiresAt(sessionId)).toEqual(
      new Date(clock.now().getTime() + GUEST_SESSION_TTL_MS),
    );
  });

  it('refuses a session id that was never issued', async () => {
    const { touch } = setup();

    expect(await touch('never-issued')).toBe(false);
  });

  it('deletes expired sessions in batches, and only those', async () => {
    const { uow, clock, sessions, touch } = setup();
    const expiring = [];
    for (let i = 0; i < 3; i++) expiring.push((await startGuestSession({ uow, clock })).sessionId);
    clock.advance(DAY_MS);
    const { sessionId: live } = await startGuestSession({ uow, clock });
    clock.advance(GUEST_SESSION_TTL_MS - DAY_MS);

    expect(await sessions.deleteExpired(clock.now(), 2)).toBe(2);
    expect(await sessions.deleteExpired(clock.now(), 2)).toBe(1);
    expect(await sessions.deleteExpired(clock.now(), 2)).toBe(0);

    for (const sessionId of expiring) expect(await sessions.expiresAt(sessionId)).toBeNull();
    expect(await touch(live)).toBe(true);
  });
});
