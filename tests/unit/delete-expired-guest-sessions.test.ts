import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import { addCartItem } from '../../src/application/add-cart-item.js';
import { addWishlistItem } from '../../src/application/add-wishlist-item.js';
import { deleteExpiredGuestSessions } from '../../src/application/delete-expired-guest-sessions.js';
import type { CartOwner } from '../../src/domain/cart.js';
import { MemoryCatalog } from '../support/memory-catalog.js';

const HOUR_MS = 3600 * 1000;

function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const logger = new InMemoryLogger();
  const uow = new InMemoryUnitOfWork({ clock });
  const catalog = new MemoryCatalog(uow);
  const sessions = uow.repositories.guestSessions;
  /** A guest session that expires `hours` from now (in the past when negative). */
  const session = async (id: string, hours: number): Promise<CartOwner> => {
    await sessions.insert({ id, expiresAt: new Date(clock.now().getTime() + hours * HOUR_MS) });
    return { kind: 'guest', sessionId: id };
  };
  const cleanup = (limits: { batchSize?: number; maxBatches?: number } = {}) =>
    deleteExpiredGuestSessions({ guestSessions: sessions, clock, logger, ...limits });
  return { clock, logger, uow, catalog, sessions, session, cleanup };
}

describe('deleteExpiredGuestSessions', () => {
  it('deletes expired sessions with their cart lines and wishlist entries, and keeps live ones whole', async () => {
    const { uow, catalog, session, cleanup, clock } = setup();
    const gameId = await catalog.add();
    const expiring = await session('expiring', 1);
    const live = await session('live', 48);
    for (const owner of [expiring, live]) {
      await addCartItem({ uow }, { owner, gameId, quantity: 2 });
      await addWishlistItem({ uow }, { owner, gameId });
    }
    clock.advance(2 * HOUR_MS);

    expect(await cleanup()).toEqual({ deleted: 1, more: false });

    expect(await uow.repositories.guestSessions.expiresAt('expiring')).toBeNull();
    expect(await uow.repositories.carts.lines(expiring)).toEqual([]);
    expect(await uow.repositories.wishlists.gameIds(expiring)).toEqual([]);
    expect(await uow.repositories.guestSessions.expiresAt('live')).not.toBeNull();
    expect(await uow.repositories.carts.lines(live)).toMatchObject([{ gameId, quantity: 2 }]);
    expect(await uow.repositories.wishlists.gameIds(live)).toEqual([gameId]);
    expect(await uow.repositories.carts.cacheKeysHoldingGames([gameId])).toEqual([
      'session:live:cart',
      'session:live:wishlist',
    ]);
  });

  it('deletes a session that expires exactly now', async () => {
    const { session, sessions, cleanup } = setup();
    await session('due', 0);

    expect(await cleanup()).toEqual({ deleted: 1, more: false });
    expect(await sessions.expiresAt('due')).toBeNull();
  });

  it('works in bounded batches and says when a backlog is left for the next run', async () => {
    const { session, sessions, cleanup, logger } = setup();
    for (let i = 0; i < 5; i++) await session(`old-${i}`, -1);
    await session('live', 1);

    expect(await cleanup({ batchSize: 2, maxBatches: 2 })).toEqual({ deleted: 4, more: true });
    expect(await cleanup({ batchSize: 2, maxBatches: 2 })).toEqual({ deleted: 1, more: false });
    expect(await cleanup({ batchSize: 2, maxBatches: 2 })).toEqual({ deleted: 0, more: false });

    expect(await sessions.expiresAt('live')).not.toBeNull();
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
