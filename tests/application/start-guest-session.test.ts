import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { GUEST_SESSION_TTL_MS, startGuestSession } from '../../src/application/start-guest-session.js';
import { startGround, type Ground } from '../support/ground.js';

const DAY_MS = 24 * 3600 * 1000;
/** How much a session must have aged before a touch writes its sliding expiry (the adapter's granularity). */
const TOUCH_GRANULARITY_MS = DAY_MS;

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

function setup(on: Ground = ground) {
  // A clock of this test's own (from real now), so moving it leaves the other tests alone. The guest session
  // repository compares expiries with the time it is given, never with the database's clock.
  const clock = new FixedClock(new Date());
  const uow = on.uow;
  const sessions = on.readers.guestSessions;
  const touch = (sessionId: string) => sessions.touch(sessionId, clock.now(), GUEST_SESSION_TTL_MS);
  /** The stored expiry of a session, or `null` when there is no such session. */
  const expiresAt = async (sessionId: string) => {
    const row = await on.db
      .selectFrom('guest_sessions')
      .select('expires_at')
      .where('id', '=', sessionId)
      .executeTakeFirst();
    return row?.expires_at ?? null;
  };
  return { clock, uow, sessions, touch, expiresAt };
}

describe('startGuestSession', () => {
  it('stores a session of 256 random bits that lives 30 days', async () => {
    const { uow, clock, expiresAt } = setup();

    const { sessionId } = await startGuestSession({ uow, clock });
    const other = await startGuestSession({ uow, clock });

    expect(GUEST_SESSION_TTL_MS).toBe(30 * DAY_MS);
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(other.sessionId).not.toBe(sessionId);
    expect(await expiresAt(sessionId)).toEqual(new Date(clock.now().getTime() + GUEST_SESSION_TTL_MS));
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
    const { uow, clock, touch, expiresAt } = setup();
    const { sessionId } = await startGuestSession({ uow, clock });

    for (let day = 0; day < 120; day += 20) {
      clock.advance(20 * DAY_MS);
      expect(await touch(sessionId)).toBe(true);
      expect(await expiresAt(sessionId)).toEqual(new Date(clock.now().getTime() + GUEST_SESSION_TTL_MS));
    }

    clock.advance(GUEST_SESSION_TTL_MS);
    expect(await touch(sessionId)).toBe(false);
  });

  it('writes the sliding expiry at most once a day', async () => {
    const { uow, clock, touch, expiresAt } = setup();
    const { sessionId } = await startGuestSession({ uow, clock });
    const issuedExpiry = await expiresAt(sessionId);

    clock.advance(TOUCH_GRANULARITY_MS);
    expect(await touch(sessionId)).toBe(true);
    expect(await expiresAt(sessionId)).toEqual(issuedExpiry);

    clock.advance(1);
    expect(await touch(sessionId)).toBe(true);
    expect(await expiresAt(sessionId)).toEqual(new Date(clock.now().getTime() + GUEST_SESSION_TTL_MS));
  });

  it('refuses a session id that was never issued', async () => {
    const { touch } = setup();

    expect(await touch('never-issued')).toBe(false);
  });

  it('deletes expired sessions in batches, and only those', async () => {
    // The counts below are of every expired session in the database: this test needs an empty world.
    const empty = await startGround();
    try {
      const { uow, clock, sessions, touch, expiresAt } = setup(empty);
      const expiring = [];
      for (let i = 0; i < 3; i++) expiring.push((await startGuestSession({ uow, clock })).sessionId);
      clock.advance(DAY_MS);
      const { sessionId: live } = await startGuestSession({ uow, clock });
      clock.advance(GUEST_SESSION_TTL_MS - DAY_MS);

      expect(await sessions.deleteExpired(clock.now(), 2)).toBe(2);
      expect(await sessions.deleteExpired(clock.now(), 2)).toBe(1);
      expect(await sessions.deleteExpired(clock.now(), 2)).toBe(0);

      for (const sessionId of expiring) expect(await expiresAt(sessionId)).toBeNull();
      expect(await touch(live)).toBe(true);
    } finally {
      await empty.dispose();
    }
  });
});
