import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryCache } from '../../src/adapters/memory/in-memory-cache.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { InMemoryUnitOfWork } from '../../src/adapters/memory/in-memory-unit-of-work.js';
import type { NewUser } from '../../src/ports/users.js';
import type { TransactionScope } from '../../src/ports/unit-of-work.js';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

const newUser = (email: string): NewUser => ({
  email,
  passwordHash: 'hash',
  nickname: null,
  firstName: null,
  lastName: null,
});

const mail = { to: 'alice@example.com', subject: 'Hi', text: 'Hello' };

describe('InMemoryUnitOfWork', () => {
  it('keeps the writes and outbox rows of a transaction that commits', async () => {
    const uow = new InMemoryUnitOfWork();

    const user = await uow.run(async (scope) => {
      await scope.outbox.add('email.send', mail);
      return scope.users.insertIfEmailFree(newUser('alice@example.com'));
    });

    expect(await uow.repositories.users.findById(user!.id)).toEqual(user);
    expect(uow.messages).toEqual([{ id: 1, topic: 'email.send', payload: mail }]);
    expect({ commits: uow.commits, rollbacks: uow.rollbacks }).toEqual({ commits: 1, rollbacks: 0 });
  });

  it('drops every write and outbox row of a transaction that throws', async () => {
    const uow = new InMemoryUnitOfWork();
    const kept = await uow.run((scope) => scope.users.insertIfEmailFree(newUser('kept@example.com')));
    let insertedId: string | undefined;

    await expect(
      uow.run(async (scope) => {
        insertedId = (await scope.users.insertIfEmailFree(newUser('alice@example.com')))!.id;
        await scope.users.setRole(kept!.id, 'admin');
        await scope.guestSessions.insert({ id: 'guest', expiresAt: new Date(Date.now() + 60_000) });
        await scope.outbox.invalidate({ keys: ['game:1'] });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    expect(insertedId).toBeDefined();
    expect(await uow.repositories.users.findById(insertedId!)).toBeNull();
    expect(await uow.repositories.users.findById(kept!.id)).toMatchObject({ role: 'customer' });
    expect(await uow.repositories.guestSessions.expiresAt('guest')).toBeNull();
    expect(uow.messages).toEqual([]);
    expect(uow.rollbacks).toBe(1);
  });

  it('hides uncommitted writes from the autocommit repositories', async () => {
    const uow = new InMemoryUnitOfWork();
    const inserted = deferred();
    const release = deferred();

    const running = uow.run(async (scope) => {
      await scope.users.insertIfEmailFree(newUser('alice@example.com'));
      inserted.resolve();
      await release.promise;
    });
    await inserted.promise;

    expect(await uow.repositories.users.findCredentialsByEmail('alice@example.com')).toBeNull();
    release.resolve();
    await running;
    expect(await uow.repositories.users.findCredentialsByEmail('alice@example.com')).not.toBeNull();
  });

  it('runs transactions one at a time, and goes on after one fails', async () => {
    const uow = new InMemoryUnitOfWork();
    const events: string[] = [];
    const firstStarted = deferred();
    const releaseFirst = deferred();

    const first = uow.run(async () => {
      events.push('first started');
      firstStarted.resolve();
      await releaseFirst.promise;
      events.push('first failing');
      throw new Error('first failed');
    });
    await firstStarted.promise;
    const second = uow.run(async () => {
      events.push('second started');
    });
    events.push('second queued');
    releaseFirst.resolve();

    await expect(first).rejects.toThrow('first failed');
    await second;
    expect(events).toEqual(['first started', 'second queued', 'first failing', 'second started']);
  });

  it('refuses the scope once its transaction is over', async () => {
    const uow = new InMemoryUnitOfWork();
    let leaked: TransactionScope | undefined;
    await uow.run(async (scope) => {
      leaked = scope;
    });

    await expect(leaked!.users.findById(randomUUID())).rejects.toThrow('this transaction is over');
  });

  it('rejects calls on scope members it has no adapter for, naming them', async () => {
    const uow = new InMemoryUnitOfWork();

    await expect(
      uow.run(async (scope) => {
        const unadapted = (scope as unknown as Record<string, Record<string, () => Promise<unknown>>>)
          .somethingElse;
        await unadapted!.doIt!();
      }),
    ).rejects.toThrow('no in-memory adapter for scope.somethingElse.doIt');
  });

  it('makes exactly the next outbox write fail when asked to', async () => {
    const uow = new InMemoryUnitOfWork();
    uow.failNextOutboxAdd(new Error('injected'));

    await expect(uow.run((scope) => scope.outbox.add('email.send', mail))).rejects.toThrow('injected');
    await uow.run((scope) => scope.outbox.add('email.send', mail));

    expect(uow.payloadsOf('email.send')).toEqual([mail]);
  });

  it('applies the merged invalidations of a commit to the cache and nudges the workers', async () => {
    const cache = new InMemoryCache();
    let nudges = 0;
    const uow = new InMemoryUnitOfWork({ cache, nudge: () => (nudges += 1) });

    await uow.run(async (scope) => {
      await scope.outbox.invalidate({ keys: ['game:1'], families: ['catalog'] });
      await scope.outbox.invalidate({ keys: ['game:1', 'game:2'], families: ['catalog', 'home'] });
    });
    await uow.run(async (scope) => {
      await scope.guestSessions.insert({ id: 'quiet', expiresAt: new Date(Date.now() + 60_000) });
    });

    expect(cache.invalidations).toEqual([{ keys: ['game:1', 'game:2'], families: ['catalog', 'home'] }]);
    expect(uow.payloadsOf('cache.invalidate')).toHaveLength(2);
    expect(nudges).toBe(1);
  });

  it('applies nothing to the cache when the transaction rolls back', async () => {
    const cache = new InMemoryCache();
    let nudges = 0;
    const uow = new InMemoryUnitOfWork({ cache, nudge: () => (nudges += 1) });

    await expect(
      uow.run(async (scope) => {
        await scope.outbox.invalidate({ keys: ['game:1'] });
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');

    expect(cache.invalidations).toEqual([]);
    expect(nudges).toBe(0);
  });

  it('commits even when the cache is down: the outbox row stays for the workers', async () => {
    const cache = new InMemoryCache();
    cache.failing = true;
    const logger = new InMemoryLogger();
    const uow = new InMemoryUnitOfWork({ cache, logger });

    await uow.run((scope) => scope.outbox.invalidate({ families: ['home'] }));

    expect(uow.payloadsOf('cache.invalidate')).toEqual([{ families: ['home'] }]);
    expect(logger.at('debug')).toEqual([
      expect.objectContaining({ fields: expect.objectContaining({ outcome: 'deferred' }) }),
    ]);
  });

  it('stores outbox payloads as JSON copies', async () => {
    const uow = new InMemoryUnitOfWork();
    const payload = { ...mail };

    await uow.run((scope) => scope.outbox.add('email.send', payload));
    payload.text = 'mutated after the commit';

    expect(uow.payloadsOf('email.send')).toEqual([mail]);
  });

  it('treats e-mails as case-insensitive and unique, like the citext column', async () => {
    const uow = new InMemoryUnitOfWork();
    await uow.run((scope) => scope.users.insertIfEmailFree(newUser('alice@example.com')));

    const duplicate = await uow.run((scope) => scope.users.insertIfEmailFree(newUser('Alice@Example.com')));

    expect(duplicate).toBeNull();
    expect(await uow.repositories.users.findCredentialsByEmail('ALICE@example.com')).not.toBeNull();
  });

  it('enforces the foreign keys and unique token hashes of the schema', async () => {
    const uow = new InMemoryUnitOfWork();
    const expiresAt = new Date(Date.now() + 60_000);
    const token = { tokenHash: 'h', userId: randomUUID(), familyId: randomUUID(), expiresAt };

    await expect(uow.run((scope) => scope.refreshTokens.insert(token))).rejects.toMatchObject({
      code: '23503',
    });
    await expect(
      uow.run((scope) =>
        scope.emailVerifications.insert({ tokenHash: 'h', userId: token.userId, expiresAt }),
      ),
    ).rejects.toMatchObject({ code: '23503' });

    const user = await uow.run((scope) => scope.users.insertIfEmailFree(newUser('alice@example.com')));
    await uow.run((scope) => scope.refreshTokens.insert({ ...token, userId: user!.id }));
    await expect(
      uow.run((scope) => scope.refreshTokens.insert({ ...token, userId: user!.id })),
    ).rejects.toMatchObject({ code: '23505' });
  });

  it('stamps new users with the clock it was given', async () => {
    const clock = new FixedClock('2030-05-06T07:08:09.000Z');
    const uow = new InMemoryUnitOfWork({ clock });

    const user = await uow.run((scope) => scope.users.insertIfEmailFree(newUser('alice@example.com')));

    expect(user?.createdAt).toEqual(new Date('2030-05-06T07:08:09.000Z'));
  });

  it('answers copies, so callers cannot change stored rows', async () => {
    const uow = new InMemoryUnitOfWork();
    const user = await uow.run((scope) => scope.users.insertIfEmailFree(newUser('alice@example.com')));
    user!.role = 'admin';
    (await uow.repositories.users.findById(user!.id))!.role = 'admin';

    expect(await uow.repositories.users.findById(user!.id)).toMatchObject({ role: 'customer' });
  });
});
