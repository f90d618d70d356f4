import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deleteExpiredGuestSessions } from '../../src/application/delete-expired-guest-sessions.js';
import { GUEST_CLEANUP_QUEUE } from '../../src/adapters/jobs/housekeeping.js';
import { KyselyGuestSessionRepository } from '../../src/adapters/postgres/kysely-token-repositories.js';
import type { CartOwner } from '../../src/domain/cart.js';
import { insertGame } from '../support/games.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

let shop: TestShop;

beforeAll(async () => {
  shop = await startTestShop();
});
afterAll(() => shop?.dispose());

async function newSession(expiresAt: Date): Promise<string> {
  const id = randomUUID().replaceAll('-', '');
  await shop.db.insertInto('guest_sessions').values({ id, expires_at: expiresAt }).execute();
  return id;
}

async function newUserId(): Promise<string> {
  const row = await shop.db
    .insertInto('users')
    .values({ email: `${randomUUID()}@example.com`, password_hash: 'x' })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

const inAMonth = () => new Date(Date.now() + 30 * 24 * 3600 * 1000);

describe('cart and wishlist tables', () => {
  it('hold each line for exactly one owner, at most once per game, with 1 to 10 units', async () => {
    const game = await insertGame(shop.db);
    const userId = await newUserId();
    const sessionId = await newSession(inAMonth());
    const insert = (values: { user_id?: string | null; session_id?: string | null; quantity?: number }) =>
      shop.db
        .insertInto('cart_items')
        .values({ user_id: null, session_id: null, game_id: game, quantity: 1, ...values })
        .execute();

    await expect(insert({})).rejects.toMatchObject({ code: '23514' });
    await expect(insert({ user_id: userId, session_id: sessionId })).rejects.toMatchObject({ code: '23514' });
    await expect(insert({ user_id: userId, quantity: 0 })).rejects.toMatchObject({ code: '23514' });
    await expect(insert({ user_id: userId, quantity: 11 })).rejects.toMatchObject({ code: '23514' });
    await insert({ user_id: userId, quantity: 10 });
    await insert({ session_id: sessionId, quantity: 1 });
    await expect(insert({ user_id: userId })).rejects.toMatchObject({ code: '23505' });
    await expect(insert({ session_id: sessionId })).rejects.toMatchObject({ code: '23505' });

    const wish = (values: { user_id?: string | null; session_id?: string | null }) =>
      shop.db
        .insertInto('wishlist_items')
        .values({ user_id: null, session_id: null, game_id: game, ...values })
        .execute();
    await expect(wish({})).rejects.toMatchObject({ code: '23514' });
    await wish({ user_id: userId });
    await expect(wish({ user_id: userId })).rejects.toMatchObject({ code: '23505' });
  });

  it('names the owner of every cart and wishlist that holds a game', async () => {
    const [held, wished, untouched] = [
      await insertGame(shop.db),
      await insertGame(shop.db),
      await insertGame(shop.db),
    ];
    const userId = await newUserId();
    const sessionId = await newSession(inAMonth());
    const otherSession = await newSession(inAMonth());
    await shop.uow.run(async (scope) => {
      await scope.carts.add({ kind: 'user', userId }, held, 1, 10);
      await scope.carts.add({ kind: 'guest', sessionId }, held, 2, 10);
      await scope.wishlists.add({ kind: 'guest', sessionId: otherSession }, wished);
      await scope.wishlists.add({ kind: 'user', userId }, wished);
    });

    const holders = await shop.uow.run((scope) => scope.carts.holdersOf([held, wished, untouched]));
    const byId = (owners: CartOwner[]) =>
      owners.map((o) => (o.kind === 'user' ? `user:${o.userId}` : `session:${o.sessionId}`)).sort();
    expect(byId(holders.carts)).toEqual([`user:${userId}`, `session:${sessionId}`].sort());
    expect(byId(holders.wishlists)).toEqual([`user:${userId}`, `session:${otherSession}`].sort());
    expect(await shop.uow.run((scope) => scope.carts.holdersOf([untouched]))).toEqual({
      carts: [],
      wishlists: [],
    });
    expect(await shop.uow.run((scope) => scope.carts.holdersOf([]))).toEqual({ carts: [], wishlists: [] });
  });
});

describe('expired guest sessions', () => {
  it('are deleted in bounded batches with their cart and wishlist lines; live ones stay', async () => {
    const game = await insertGame(shop.db);
    const expired = await Promise.all(
      Array.from({ length: 5 }, () => newSession(new Date(Date.now() - 1000))),
    );
    const live = await newSession(inAMonth());
    for (const sessionId of [...expired, live]) {
      await shop.uow.run(async (scope) => {
        await scope.carts.add({ kind: 'guest', sessionId }, game, 1, 10);
        await scope.wishlists.add({ kind: 'guest', sessionId }, game);
      });
    }
    const deps = {
      guestSessions: new KyselyGuestSessionRepository(shop.db),
      clock: { now: () => new Date() },
      logger: pino({ level: 'silent' }),
      batchSize: 2,
    };

    expect(await deleteExpiredGuestSessions({ ...deps, maxBatches: 2 })).toEqual({ deleted: 4, more: true });
    expect(await deleteExpiredGuestSessions(deps)).toEqual({ deleted: 1, more: false });
    expect(await deleteExpiredGuestSessions(deps)).toEqual({ deleted: 0, more: false });

    const sessions = await shop.db
      .selectFrom('guest_sessions')
      .select('id')
      .where('id', 'in', [...expired, live])
      .execute();
    expect(sessions.map((s) => s.id)).toEqual([live]);
    for (const table of ['cart_items', 'wishlist_items'] as const) {
      const owners = await shop.db
        .selectFrom(table)
        .select('session_id')
        .where('game_id', '=', game)
        .execute();
      expect(owners.map((o) => o.session_id)).toEqual([live]);
    }
  });

  it('are cleaned up by a scheduled job', async () => {
    const schedules = await shop.boss.getSchedules();
    expect(schedules.map((s) => s.name)).toContain(GUEST_CLEANUP_QUEUE);

    const expired = await newSession(new Date(Date.now() - 1000));
    await shop.boss.send(GUEST_CLEANUP_QUEUE, {});
    await waitFor(
      async () =>
        (await shop.db.selectFrom('guest_sessions').select('id').where('id', '=', expired).execute())
          .length === 0,
      'the cleanup job deleted the expired session',
    );
  });
});
