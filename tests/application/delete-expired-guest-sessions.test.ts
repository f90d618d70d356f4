import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addCartItem } from '../../src/application/add-cart-item.js';
import { addWishlistItem } from '../../src/application/add-wishlist-item.js';
import { deleteExpiredGuestSessions } from '../../src/application/delete-expired-guest-sessions.js';
import type { CartOwner } from '../../src/domain/cart.js';
import { insertGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';

const HOUR_MS = 3600 * 1000;

// Every test counts the expired sessions of the whole database: each starts with an empty world of its own.
let ground: Ground;
beforeEach(async () => {
  ground = await startGround();
});
afterEach(() => ground?.dispose());

function setup() {
  const { clock, logger, uow } = ground;
  const sessions = ground.readers.guestSessions;
  /** A guest session that expires `hours` from the clock (in the past when negative). */
  const session = async (id: string, hours: number): Promise<CartOwner> => {
    await sessions.insert({ id, expiresAt: new Date(clock.now().getTime() + hours * HOUR_MS) });
    return { kind: 'guest', sessionId: id };
  };
  /** The stored expiry of a session, or `null` when there is no such session. */
  const expiresAt = async (sessionId: string) => {
    const row = await ground.db
      .selectFrom('guest_sessions')
      .select('expires_at')
      .where('id', '=', sessionId)
      .executeTakeFirst();
    return row?.expires_at ?? null;
  };
  const cleanup = (limits: { batchSize?: number; maxBatches?: number } = {}) =>
    deleteExpiredGuestSessions({ guestSessions: sessions, clock, logger, ...limits });
  return { clock, logger, uow, session, expiresAt, cleanup };
}

describe('deleteExpiredGuestSessions', () => {
  it('deletes expired sessions with their cart lines and wishlist entries, and keeps live ones whole', async () => {
    const { uow, session, expiresAt, cleanup, clock } = setup();
    const gameId = await insertGame(ground.db);
    // Both live in real time, as the cart and wishlist adds (which check against the real time) need.
    const expiring = await session('expiring', 1);
    const live = await session('live', 48);
    for (const owner of [expiring, live]) {
      await addCartItem({ uow }, { owner, gameId, quantity: 2 });
      await addWishlistItem({ uow }, { owner, gameId });
    }
    clock.advance(2 * HOUR_MS);

    expect(await cleanup()).toEqual({ deleted: 1, more: false });

    const wishlisted = (owner: CartOwner) => uow.run((scope) => scope.wishlists.gameIds(owner));
    expect(await expiresAt('expiring')).toBeNull();
    expect(await ground.readers.carts.lines(expiring)).toEqual([]);
    expect(await wishlisted(expiring)).toEqual([]);
    expect(await expiresAt('live')).not.toBeNull();
    expect(await ground.readers.carts.lines(live)).toMatchObject([{ gameId, quantity: 2 }]);
    expect(await wishlisted(live)).toEqual([gameId]);
    expect(await uow.run((scope) => scope.carts.holdersOf([gameId]))).toEqual({
      carts: [live],
      wishlists: [live],
    });
  });

  it('deletes a session that expires exactly now', async () => {
    const { session, expiresAt, cleanup } = setup();
    await session('due', 0);

    expect(await cleanup()).toEqual({ deleted: 1, more: false });
    expect(await expiresAt('due')).toBeNull();
  });

  it('works in bounded batches and says when a backlog is left for the next run', async () => {
    const { session, expiresAt, cleanup, logger } = setup();
    for (let i = 0; i < 5; i++) await session(`old-${i}`, -1);
    await session('live', 1);

    expect(await cleanup({ batchSize: 2, maxBatches: 2 })).toEqual({ deleted: 4, more: true });
    expect(await cleanup({ batchSize: 2, maxBatches: 2 })).toEqual({ deleted: 1, more: false });
    expect(await cleanup({ batchSize: 2, maxBatches: 2 })).toEqual({ deleted: 0, more: false });

    expect(await expiresAt('live')).not.toBeNull();
    expect(logger.at('info').map((entry) => [entry.fields.outcome, entry.fields.deleted])).toEqual([
      ['partial', 4],
      ['done', 1],
      ['done', 0],
    ]);
  });

  it('ends with more: false when the last batch is exactly full and nothing is left', async () => {
    const { session, cleanup } = setup();
    for (let i = 0; i < 4; i++) await session(`old-${i}`, -1);

    expect(await cleanup({ batchSize: 2, maxBatches: 5 })).toEqual({ deleted: 4, more: false });
  });
});
