import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertGame, updateGame } from '../support/games.js';
import { redisUrl, uniqueRedisPrefix } from '../support/services.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

const GAMES = 6;
const PAGE = '/api/v1/games?page=1&pageSize=50&sort=price_asc';

/**
 * Two shop processes (their own pools, caches, near caches and feeds) on one database and one Redis: a price
 * change committed through either is never served stale by the other once its invalidation has reached it.
 */
describe('near caches of two shop processes', () => {
  const prefix = uniqueRedisPrefix();
  let first: TestShop;
  let second: TestShop;
  let raw: Redis;

  beforeAll(async () => {
    first = await startTestShop({ env: { REDIS_KEY_PREFIX: prefix } });
    second = await startTestShop({
      databaseUrl: first.databaseUrl,
      env: { REDIS_KEY_PREFIX: prefix },
    });
    raw = new Redis(redisUrl());
    await waitFor(() => first.near?.cache.active && second.near?.cache.active, 'both near caches');
  });

  afterAll(async () => {
    await second?.close();
    await first?.dispose();
    const leftovers = await raw.keys(`${prefix}*`);
    if (leftovers.length > 0) await raw.del(...leftovers);
    raw.disconnect();
  });

  const shops = () => [first, second];

  async function price(shop: TestShop, gameId: string): Promise<number> {
    const response = await shop.app!.inject({ method: 'GET', url: `/api/v1/games/${gameId}` });
    expect(response.statusCode).toBe(200);
    return (response.json() as { priceCents: number }).priceCents;
  }

  async function pagePrices(shop: TestShop): Promise<Map<string, number>> {
    const response = await shop.app!.inject({ method: 'GET', url: PAGE });
    expect(response.statusCode).toBe(200);
    const { items } = response.json() as { items: { id: string; priceCents: number }[] };
    return new Map(items.map((item) => [item.id, item.priceCents]));
  }

  /** Resolves once both processes heard every invalidation published so far. */
  async function bothHeard(): Promise<void> {
    const sequence = Number(await raw.get(`${prefix}cache:invalidation-sequence`));
    while (!shops().every((shop) => (shop.near!.feed.heardSequence ?? 0) >= sequence))
      await new Promise((resolve) => setImmediate(resolve));
  }

  it('serves no stale price from either process after the invalidation settles', async () => {
    const games: string[] = [];
    for (let n = 0; n < GAMES; n += 1) games.push(await insertGame(first.db, { priceCents: 1000 + n }));
    const truth = new Map(games.map((id, n) => [id, 1000 + n]));
    // The price a read may not be older than: set once a change's invalidation reached both processes.
    const settled = new Map(truth);
    const stale: string[] = [];
    let reads = 0;
    const until = performance.now() + 4_000;

    const readers = shops().flatMap((shop, s) =>
      Array.from({ length: 6 }, async (_, lane) => {
        for (let n = lane; performance.now() < until; n += 1) {
          const gameId = games[n % games.length]!;
          if (n % 5 === 0) {
            const floor = new Map(settled);
            for (const [id, served] of await pagePrices(shop))
              if (served < floor.get(id)!) stale.push(`page in ${s}: ${id} ${served} < ${floor.get(id)}`);
          } else {
            const floor = settled.get(gameId)!;
            const served = await price(shop, gameId);
            if (served < floor) stale.push(`game in ${s}: ${gameId} ${served} < ${floor}`);
          }
          reads += 1;
          // Injected requests answered from memory need no I/O: yield, as a server's event loop would.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }),
    );
    let changes = 0;
    const writer = async () => {
      for (let n = 0; performance.now() < until - 300; n += 1) {
        const gameId = games[n % games.length]!;
        const next = truth.get(gameId)! + 10;
        await updateGame(first.db, gameId, { priceCents: next });
        truth.set(gameId, next);
        // Committed through either process, alternately; its after-commit step applies it to Redis.
        await shops()[n % 2]!.uow.run((scope) =>
          scope.outbox.invalidate({ keys: [`game:${gameId}`], families: ['catalog', 'home'] }),
        );
        await bothHeard();
        settled.set(gameId, next);
        changes += 1;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    await Promise.all([...readers, writer()]);

    const nearHits = shops().reduce((sum, shop) => sum + shop.near!.cache.stats().hits, 0);
    console.info(`two processes: ${reads} reads, ${nearHits} near hits, ${changes} changes`);
    expect(stale).toEqual([]);
    expect(changes).toBeGreaterThan(20);
    expect(nearHits).toBeGreaterThan(reads / 4);
    // And at the end, both processes answer the truth.
    for (const shop of shops()) for (const id of games) expect(await price(shop, id)).toBe(truth.get(id));
  });

  it('clears a process’s near cache when its subscription is killed, and reads stay right meanwhile', async () => {
    const gameId = await insertGame(first.db, { priceCents: 5000 });
    expect(await price(second, gameId)).toBe(5000);
    expect(second.near!.cache.size).toBeGreaterThan(0);

    const clients = (await raw.client('LIST')) as string;
    const id = /\bid=(\d+)/.exec(
      clients.split('\n').find((l) => l.includes(`name=${second.near!.feed.connectionName} `)) ?? '',
    )?.[1];
    await raw.client('KILL', 'ID', id!);
    await waitFor(() => !second.near!.cache.active, 'the second process to notice');
    expect(second.near!.cache.size).toBe(0);

    await updateGame(first.db, gameId, { priceCents: 5100 });
    await first.uow.run((scope) => scope.outbox.invalidate({ keys: [`game:${gameId}`] }));
    expect(await price(second, gameId)).toBe(5100);
    await waitFor(() => second.near!.cache.active, 'the second process to subscribe again');
    expect(await price(second, gameId)).toBe(5100);
  });
});
