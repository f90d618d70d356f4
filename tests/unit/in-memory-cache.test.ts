import { describe, expect, it } from 'vitest';
import { InMemoryCache } from '../../src/adapters/memory/in-memory-cache.js';

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

describe('InMemoryCache', () => {
  it('loads on a miss and answers a copy of the cached value on a hit', async () => {
    const cache = new InMemoryCache();
    const first = await cache.getOrLoad({ key: 'game:1' }, 60, async () => ({ name: 'Doom' }));
    first.name = 'mutated';
    const second = await cache.getOrLoad({ key: 'game:1' }, 60, async () => ({ name: 'unexpected' }));

    expect(second).toEqual({ name: 'Doom' });
    expect({ hits: cache.hits, misses: cache.misses }).toEqual({ hits: 1, misses: 1 });
  });

  it('forgets an entry after its TTL', async () => {
    let now = 1_000_000;
    const cache = new InMemoryCache({ now: () => now });
    await cache.getOrLoad({ key: 'taxonomy:genres' }, 60, async () => 'old');
    now += 60_001;

    expect(await cache.getOrLoad({ key: 'taxonomy:genres' }, 60, async () => 'new')).toBe('new');
  });

  it('reloads invalidated keys and families', async () => {
    const cache = new InMemoryCache();
    await cache.getOrLoad({ key: 'game:1' }, 60, async () => 'game v1');
    await cache.getOrLoad({ family: 'catalog', member: 'q' }, 60, async () => 'catalog v1');
    await cache.getOrLoad({ family: 'home', member: '' }, 60, async () => 'home v1');

    await cache.invalidate({ keys: ['game:1'], families: ['catalog', 'home'] });

    expect(await cache.getOrLoad({ key: 'game:1' }, 60, async () => 'game v2')).toBe('game v2');
    expect(await cache.getOrLoad({ family: 'catalog', member: 'q' }, 60, async () => 'catalog v2')).toBe(
      'catalog v2',
    );
    expect(await cache.getOrLoad({ family: 'home', member: '' }, 60, async () => 'home v2')).toBe('home v2');
    expect(cache.keyOf({ family: 'catalog', member: 'q' })).toBe('catalog:1:q');
    expect(cache.keyOf({ family: 'home', member: 'ignored' })).toBe('home:1');
    expect(cache.invalidations).toEqual([{ keys: ['game:1'], families: ['catalog', 'home'] }]);
  });

  it.each([
    ['a plain key', { key: 'game:1' }, { keys: ['game:1'] }],
    ['a family member', { family: 'catalog' as const, member: 'q' }, { families: ['catalog' as const] }],
  ])('never stores a value loaded before an invalidation of %s', async (_name, ref, invalidation) => {
    const cache = new InMemoryCache();
    const loadStarted = deferred();
    const release = deferred();
    const slowRead = cache.getOrLoad(ref, 60, async () => {
      loadStarted.resolve();
      await release.promise;
      return 'old';
    });
    await loadStarted.promise;

    await cache.invalidate(invalidation);
    release.resolve();

    expect(await slowRead).toBe('old');
    expect(cache.fillRejections).toBe(1);
    expect(cache.peek(ref)).toBeUndefined();
    expect(await cache.getOrLoad(ref, 60, async () => 'new')).toBe('new');
    expect(await cache.getOrLoad(ref, 60, async () => 'unexpected')).toBe('new');
  });

  it('behaves like an unreachable cache while failing', async () => {
    const cache = new InMemoryCache();
    cache.failing = true;

    expect(await cache.getOrLoad({ key: 'game:1' }, 60, async () => 'from postgres')).toBe('from postgres');
    await expect(cache.invalidate({ keys: ['game:1'] })).rejects.toThrow();
    expect(await cache.health()).toBe('down');

    cache.failing = false;
    expect(await cache.getOrLoad({ key: 'game:1' }, 60, async () => 'cached')).toBe('cached');
    expect(cache.peek({ key: 'game:1' })).toBe('cached');
    expect(await cache.health()).toBe('ok');
  });
});
