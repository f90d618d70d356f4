import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CartRepository } from '../../src/ports/carts.js';
import type { TransactionScope } from '../../src/ports/unit-of-work.js';
import { insertGame } from '../support/games.js';
import { startGround, type Ground } from '../support/ground.js';

const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

/** Runs `work` on `KyselyCartRepository` in a transaction of its own (a failed statement aborts its transaction). */
const inTransaction = <T>(work: (carts: CartRepository, scope: TransactionScope) => Promise<T>) =>
  ground.uow.run((scope) => work(scope.carts, scope));

describe('KyselyCartRepository', () => {
  it('refuses lines of unknown owners and games (foreign key violations)', async () => {
    const { user } = await ground.newOwners();
    const gameId = await insertGame(ground.db);

    await expect(
      inTransaction((carts) => carts.add({ kind: 'user', userId: UNKNOWN_ID }, gameId, 1, 10)),
    ).rejects.toMatchObject({ code: '23503', constraint: 'cart_items_user_id_fkey' });
    await expect(
      inTransaction((carts) => carts.add({ kind: 'guest', sessionId: 'forged' }, gameId, 1, 10)),
    ).rejects.toMatchObject({ code: '23503', constraint: 'cart_items_session_id_fkey' });
    await expect(inTransaction((carts) => carts.add(user, UNKNOWN_ID, 1, 10))).rejects.toMatchObject({
      code: '23503',
      constraint: 'cart_items_game_id_fkey',
    });
    await expect(
      inTransaction((_, scope) => scope.wishlists.add({ kind: 'guest', sessionId: 'forged' }, gameId)),
    ).rejects.toMatchObject({ code: '23503', constraint: 'wishlist_items_session_id_fkey' });
    expect(await ground.readers.carts.lines(user)).toEqual([]);
  });

  it('keeps quantities between 1 and 10 whatever the caller asks (the CHECK constraint)', async () => {
    const { user } = await ground.newOwners();
    const gameId = await insertGame(ground.db);

    await expect(inTransaction((carts) => carts.add(user, gameId, 0, 10))).rejects.toMatchObject({
      code: '23514',
    });
    await expect(inTransaction((carts) => carts.add(user, gameId, 11, 20))).rejects.toMatchObject({
      code: '23514',
    });
    expect(await inTransaction((carts) => carts.add(user, gameId, 4, 10))).toEqual({
      quantity: 4,
      created: true,
    });
    await expect(inTransaction((carts) => carts.setQuantity(user, gameId, 11))).rejects.toMatchObject({
      code: '23514',
    });
    expect(await inTransaction((carts) => carts.setQuantity(user, gameId, 6))).toBe(4);
    expect(await inTransaction((carts) => carts.setQuantity(user, UNKNOWN_ID, 6))).toBeNull();
    expect(await ground.readers.carts.lines(user)).toMatchObject([{ gameId, quantity: 6 }]);
  });

  it('answers null and changes nothing when an add would pass the maximum', async () => {
    const { user } = await ground.newOwners();
    const gameId = await insertGame(ground.db);

    expect(await inTransaction((carts) => carts.add(user, gameId, 4, 3))).toBeNull();
    expect(await inTransaction((carts) => carts.add(user, gameId, 3, 3))).toEqual({
      quantity: 3,
      created: true,
    });
    expect(await inTransaction((carts) => carts.add(user, gameId, 1, 3))).toBeNull();
    expect(await ground.readers.carts.lines(user)).toMatchObject([{ gameId, quantity: 3 }]);
  });

  it('cuts a capped add to the maximum, for a new line and for an existing one', async () => {
    const { user } = await ground.newOwners();
    const [fresh, existing] = [await insertGame(ground.db), await insertGame(ground.db)];
    await inTransaction((carts) => carts.add(user, existing, 7, 10));

    expect(await inTransaction((carts) => carts.addCapped(user, fresh, 12, 10))).toBe(10);
    expect(await inTransaction((carts) => carts.addCapped(user, existing, 5, 10))).toBe(10);
    expect(await inTransaction((carts) => carts.addCapped(user, existing, 1, 10))).toBe(10);
    const lines = await ground.readers.carts.lines(user);
    expect(Object.fromEntries(lines.map((line) => [line.gameId, line.quantity]))).toEqual({
      [fresh]: 10,
      [existing]: 10,
    });
  });

  it('names each holder of the games once, carts apart from wishlists', async () => {
    const { user, guest } = await ground.newOwners();
    const otherGuest = { kind: 'guest' as const, sessionId: await ground.newGuestSession() };
    const [a, b, untouched] = [
      await insertGame(ground.db),
      await insertGame(ground.db),
      await insertGame(ground.db),
    ];
    await inTransaction(async (carts, scope) => {
      await carts.add(guest, a, 1, 10);
      await carts.add(guest, b, 1, 10);
      await carts.add(user, b, 1, 10);
      await carts.add(otherGuest, untouched, 1, 10);
      await scope.wishlists.add(user, a);
      await scope.wishlists.add(otherGuest, untouched);
    });
    const byKind = (owners: { kind: string }[]) => [...owners].sort((x, y) => x.kind.localeCompare(y.kind));

    const holders = await inTransaction((carts) => carts.holdersOf([a, b]));

    expect({ carts: byKind(holders.carts), wishlists: holders.wishlists }).toEqual({
      carts: [guest, user],
      wishlists: [user],
    });
    expect(await inTransaction((carts) => carts.holdersOf([]))).toEqual({ carts: [], wishlists: [] });
  });
});
