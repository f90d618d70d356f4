import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { outboxRegistry } from '../../src/adapters/jobs/outbox-topics.js';
import { WorkerWakeups } from '../../src/adapters/jobs/worker-wakeups.js';
import { KyselyUnitOfWork } from '../../src/adapters/postgres/kysely-unit-of-work.js';
import { cacheKeys } from '../../src/domain/cache-keys.js';
import type { Cache } from '../../src/ports/cache.js';
import { startGround, type Ground } from '../support/ground.js';
import { insertGame } from '../support/games.js';
import { outboxJobs } from '../support/outbox.js';

let ground: Ground;
beforeAll(async () => {
  ground = await startGround();
});
afterAll(() => ground?.dispose());

const cached = async (key: string) => (await ground.redis!.hexists(key, 'd')) === 1;

/** Caches a game entry the way a read does. */
async function cacheGame(gameId: string) {
  await ground.cache.getOrLoad({ key: cacheKeys.game(gameId) }, 300, async () => ({ id: gameId }));
  expect(await cached(cacheKeys.game(gameId))).toBe(true);
}

describe('KyselyUnitOfWork', () => {
  it('commits the writes together with their outbox messages', async () => {
    await ground.clearOutbox();
    const sessionId = `guest-${Date.now()}`;
    await ground.uow.run(async (scope) => {
      await scope.guestSessions.insert({ id: sessionId, expiresAt: new Date(Date.now() + 60_000) });
      await scope.outbox.add('email.send', { to: 'a@example.com', subject: 'Hello', text: 'Hi' });
    });

    expect(
      await ground.db.selectFrom('guest_sessions').select('id').where('id', '=', sessionId).execute(),
    ).toHaveLength(1);
    expect(await ground.outbox('email.send')).toEqual([
      { to: 'a@example.com', subject: 'Hello', text: 'Hi' },
    ]);
    expect((await outboxJobs(ground.db, 'email.send'))[0]).toMatchObject({ state: 'created', attempts: 0 });
  });

  it('drops every write and every outbox message of a transaction that throws', async () => {
    await ground.clearOutbox();
    const sessionId = `guest-rolled-back-${Date.now()}`;
    await expect(
      ground.uow.run(async (scope) => {
        await scope.guestSessions.insert({ id: sessionId, expiresAt: new Date(Date.now() + 60_000) });
        await scope.outbox.invalidate({ keys: ['game:x'] });
        throw new Error('changed my mind');
      }),
    ).rejects.toThrow('changed my mind');

    expect(
      await ground.db.selectFrom('guest_sessions').select('id').where('id', '=', sessionId).execute(),
    ).toEqual([]);
    expect(await ground.outbox('cache.invalidate')).toEqual([]);
  });

  it('deletes the invalidated entries right after commit, before any worker runs', async () => {
    const [a, b] = [await insertGame(ground.db), await insertGame(ground.db)];
    await cacheGame(a);
    await cacheGame(b);

    await ground.uow.run(async (scope) => {
      await scope.outbox.invalidate({ keys: [cacheKeys.game(a)] });
      await scope.outbox.invalidate({ keys: [cacheKeys.game(b)] });
    });

    expect(await cached(cacheKeys.game(a))).toBe(false);
    expect(await cached(cacheKeys.game(b))).toBe(false);
  });

  it('touches the cache not at all when the transaction rolls back', async () => {
    const gameId = await insertGame(ground.db);
    await cacheGame(gameId);

    await expect(
      ground.uow.run(async (scope) => {
        await scope.outbox.invalidate({ keys: [cacheKeys.game(gameId)] });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow();

    expect(await cached(cacheKeys.game(gameId))).toBe(true);
  });

  it('answers although the cache hangs (the after-commit work is bounded), leaving the message to the workers', async () => {
    const hanging: Cache = {
      ...ground.cache,
      invalidate: () => new Promise(() => {}),
    } as Cache;
    const registry = outboxRegistry({ emailMaxAttempts: 3 });
    const uow = new KyselyUnitOfWork({
      db: ground.db,
      boss: ground.boss,
      registry,
      cache: hanging,
      wakeups: new WorkerWakeups(ground.boss),
      logger: pino({ level: 'silent' }),
    });
    await ground.clearOutbox();

    // Unbounded, this would wait for ever on the hung cache.
    await uow.run((scope) => scope.outbox.invalidate({ keys: ['game:hung'] }));

    expect(await outboxJobs(ground.db, 'cache.invalidate')).toMatchObject([
      { state: 'created', payload: { keys: ['game:hung'] } },
    ]);
  });
});
