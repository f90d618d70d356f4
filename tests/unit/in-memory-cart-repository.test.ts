import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import type { CartOwner } from '../../src/domain/cart.js';
import { MemoryCatalog } from '../support/memory-catalog.js';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

async function setup() {
  const clock = new FixedClock('2026-03-01T12:00:00.000Z');
  const uow = new InMemoryUnitOfWork({ clock });
  const catalog = new MemoryCatalog(uow);
  const created = await uow.repositories.users.insertIfEmailFree({
    email: 'alice@example.com',
    passwordHash: 'hash',
    nickname: null,
    firstName: null,
    lastName: null,
  });
  await uow.repositories.guestSessions.insert({ id: 'g1', expiresAt: new Date('2026-04-01T00:00:00Z') });
  await uow.repositories.guestSessions.insert({ id: 'g2', expiresAt: new Date('2026-04-01T00:00:00Z') });
  const userId = created!.id;
  const user: CartOwner = { kind: 'user', userId };
  const guest: CartOwner = { kind: 'guest', sessionId: 'g1' };
  const otherGuest: CartOwner = { kind: 'guest', sessionId: 'g2' };
  return { clock, uow, catalog, carts: uow.repositories.carts, userId, user, guest, otherGuest };
}

describe('InMemoryCartRepository', () => {
  it('refuses lines of unknown owners and games as PostgreSQL does (foreign key violations)', async () => {
    const { uow, carts, catalog, user } = await setup();
    const gameId = await catalog.add();

    await expect(carts.add({ kind: 'user', userId: UNKNOWN_ID }, gameId, 1, 10)).rejects.toMatchObject({
      code: '23503',
      constraint: 'cart_items_user_id_fkey',
    });
    await expect(carts.add({ kind: 'guest', sessionId: 'forged' }, gameId, 1, 10)).rejects.toMatchObject({
      code: '23503',
      constraint: 'cart_items_session_id_fkey',
    });
    await expect(carts.add(user, UNKNOWN_ID, 1, 10)).rejects.toMatchObject({
      code: '23503',
      constraint: 'cart_items_game_id_fkey',
    });
    await expect(
      uow.repositories.wishlists.add({ kind: 'guest', sessionId: 'forged' }, gameId),
    ).rejects.toMatchObject({ code: '23503', constraint: 'wishlist_items_session_id_fkey' });
    expect(await carts.lines(user)).toEqual([]);
  });

  it('keeps quantities between 1 and 10 whatever the caller asks (the CHECK constraint)', async () => {
    const { carts, catalog, user } = await setup();
    const gameId = await catalog.add();

    await expect(carts.add(user, gameId, 0, 10)).rejects.toMatchObject({ code: '23514' });
    await expect(carts.add(user, gameId, 11, 20)).rejects.toMatchObject({ code: '23514' });
    expect(await carts.add(user, gameId, 4, 10)).toEqual({ quantity: 4, created: true });
    await expect(carts.setQuantity(user, gameId, 11)).rejects.toMatchObject({ code: '23514' });
    expect(await carts.setQuantity(user, gameId, 6)).toBe(4);
    expect(await carts.setQuantity(user, UNKNOWN_ID, 6)).toBeNull();
    expect(await carts.lines(user)).toMatchObject([{ gameId, quantity: 6 }]);
  });

  it('answers null and changes nothing when an add would pass the maximum', async () => {
    const { carts, catalog, user } = await setup();
    const gameId = await catalog.add();

    expect(await carts.add(user, gameId, 4, 3)).toBeNull();
    expect(await carts.add(user, gameId, 3, 3)).toEqual({ quantity: 3, created: true });
    expect(await carts.add(user, gameId, 1, 3)).toBeNull();
    expect(await carts.lines(user)).toMatchObject([{ gameId, quantity: 3 }]);
  });

  it('cuts a capped add to the maximum, for a new line and for an existing one', async () => {
    const { carts, catalog, user } = await setup();
    const [fresh, existing] = [await catalog.add(), await catalog.add()];
    await carts.add(user, existing, 7, 10);

    expect(await carts.addCapped(user, fresh, 12, 10)).toBe(10);
    expect(await carts.addCapped(user, existing, 5, 10)).toBe(10);
    expect(await carts.addCapped(user, existing, 1, 10)).toBe(10);
  });

  it('names each holder of the games once: carts first, then wishlists', async () => {
    const { uow, carts, catalog, userId, user, guest, otherGuest } = await setup();
    const [a, b, untouched] = [await catalog.add(), await catalog.add(), await catalog.add()];
    await uow.run(async (scope) => {
      await scope.carts.add(guest, a, 1, 10);
      await scope.carts.add(guest, b, 1, 10);
      await scope.carts.add(user, b, 1, 10);
      await scope.carts.add(otherGuest, untouched, 1, 10);
      await scope.wishlists.add(user, a);
      await scope.wishlists.add(otherGuest, untouched);
    });

    const keys = await carts.cacheKeysHoldingGames([a, b]);

    expect(keys).toHaveLength(3);
    expect(keys.slice(0, 2).sort()).toEqual(['session:g1:cart', `user:${userId}:cart`]);
    expect(keys[2]).toBe(`user:${userId}:wishlist`);
    expect(await carts.cacheKeysHoldingGames([])).toEqual([]);
  });

  it('drops the cart and wishlist writes of a transaction that throws', async () => {
    const { uow, carts, catalog, guest } = await setup();
    const gameId = await catalog.add();
    await carts.add(guest, gameId, 2, 10);

    await expect(
      uow.run(async (scope) => {
        await scope.carts.add(guest, gameId, 3, 10);
        await scope.wishlists.add(guest, gameId);
        await scope.carts.clear(guest);
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    expect(await carts.lines(guest)).toMatchObject([{ gameId, quantity: 2 }]);
    expect(await uow.repositories.wishlists.gameIds(guest)).toEqual([]);
  });
});
