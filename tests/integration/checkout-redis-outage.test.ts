import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { Redis } from 'ioredis';
import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  outboxRegistry,
  type OutboxDeliveryDeps,
  type OutboxRegistry,
} from '../../src/adapters/jobs/outbox-topics.js';
import { startOutboxWorkers } from '../../src/adapters/jobs/outbox-worker.js';
import { WorkerWakeups } from '../../src/adapters/jobs/worker-wakeups.js';
import type { Logger } from '../../src/ports/logger.js';
import { insertGame } from '../support/games.js';
import { ApiClient, type Headers } from '../support/http.js';
import { ledgerViolations } from '../support/ledger-invariants.js';
import { outboxJobs, pendingOutbox } from '../support/outbox.js';
import { RedisProcess } from '../support/redis-process.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

// Checkout while Redis is away: partitioned (Redis keeps its data but the shop cannot reach it), hung
// (SIGSTOP) and stopped. The shop serves the API only (role `api`), so nothing but this test drains the
// outbox: once Redis is reachable again the test starts the shop's own outbox worker for the
// `cache.invalidate` topic alone — no fulfilment or e-mail worker runs, so no unit is bought or refunded.

/** A TCP proxy in front of Redis that the test can cut: a network partition, with Redis and its data alive. */
class CuttableProxy {
  private readonly sockets = new Set<net.Socket>();
  private severed = false;

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async to(targetPort: number): Promise<CuttableProxy> {
    const accepting: { proxy?: CuttableProxy } = {};
    const server = net.createServer((client) => accepting.proxy!.accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    accepting.proxy = new CuttableProxy(server, (server.address() as net.AddressInfo).port);
    return accepting.proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  private accept(client: net.Socket, targetPort: number): void {
    if (this.severed) {
      client.destroy();
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.sockets.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.sockets.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  }

  sever(): void {
    this.severed = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.severed = false;
  }

  async close(): Promise<void> {
    this.sever();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let redis: RedisProcess;
let proxy: CuttableProxy;
let shop: TestShop;
let http: ApiClient;
/** The test's own view of Redis (same key prefix), to see what the shop's cache holds. */
let inspector: Redis;

beforeAll(async () => {
  redis = await RedisProcess.onFreePort();
  await redis.start();
  proxy = await CuttableProxy.to(redis.port);
  shop = await startTestShop({ role: 'api', env: { REDIS_URL: proxy.url } });
  http = new ApiClient(shop);
  inspector = new Redis(redis.url, {
    keyPrefix: shop.config.redisKeyPrefix,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 200,
  });
  inspector.on('error', () => {});
  await inspector.connect();
});
afterAll(async () => {
  redis?.thaw();
  await shop?.dispose();
  inspector?.disconnect();
  await proxy?.close();
  await redis?.stop();
});

/** The JSON `user:{id}:orders` holds in Redis right now, if any. */
const cachedOrders = (userId: string) => inspector.hget(`user:${userId}:orders`, 'd');

/** Starts the shop's real outbox worker for cache invalidations only. */
async function startInvalidationWorker(): Promise<void> {
  const registry = outboxRegistry({ emailMaxAttempts: 1 });
  const logger: Logger = pino({ level: 'silent' });
  // Only what delivering an invalidation uses: the other topics' dependencies are left out on purpose.
  const deliveryDeps: Pick<OutboxDeliveryDeps, 'cache' | 'mailer' | 'logger'> = {
    cache: shop.cache,
    mailer: { send: () => Promise.reject(new Error('this test delivers no e-mail')) },
    logger,
  };
  await startOutboxWorkers({
    boss: shop.boss,
    registry: { 'cache.invalidate': registry['cache.invalidate'] } as OutboxRegistry,
    deliveryDeps: deliveryDeps as OutboxDeliveryDeps,
    wakeups: new WorkerWakeups(shop.boss),
    logger,
  });
}

async function orderIds(headers: Headers): Promise<string[]> {
  const response = await http.get('/orders', headers);
  expect(response.statusCode).toBe(200);
  return response.json().items.map((order: { id: string }) => order.id);
}

/** A checkout that must answer 201 without waiting on Redis; answers the order id. */
async function quickCheckout(headers: Headers, gameId: string): Promise<string> {
  const started = performance.now();
  const response = await http.post(
    '/orders',
    { items: [{ gameId, quantity: 1 }] },
    { ...headers, 'idempotency-key': randomUUID() },
  );
  const elapsed = performance.now() - started;
  expect(response.statusCode, response.body).toBe(201);
  expect(elapsed).toBeLessThan(1000);
  return response.json().id;
}

/** Pending invalidations that delete the user's order list (`tried`: only those a worker failed to deliver). */
async function pendingListInvalidations(userId: string, tried = false): Promise<number> {
  const jobs = await outboxJobs(shop.db, 'cache.invalidate');
  return jobs.filter(
    (job) =>
      ['created', 'retry', 'active'].includes(job.state) &&
      (!tried || (job.state === 'retry' && job.attempts >= 1)) &&
      (job.payload.keys ?? []).includes(`user:${userId}:orders`),
  ).length;
}

/** Waits until the worker tried to deliver the list's invalidation, failed, and kept it for a retry. */
const triedAndKept = (userId: string) =>
  waitFor(async () => (await pendingListInvalidations(userId, true)) > 0, 'a failed delivery kept for retry');

const pendingInvalidations = () => pendingOutbox(shop.db, 'cache.invalidate');

it('checks out while Redis is partitioned, hung or stopped; the stale order list goes once Redis is back', async () => {
  const game = await insertGame(shop.db, { priceCents: 1000, qty: 100 });
  const { headers, userId } = await http.registered();
  const admin = await http.admin();
  const topUp = await http.post(
    `/admin/users/${userId}/top-ups`,
    { amountCents: 10_000, reference: randomUUID() },
    admin,
  );
  expect(topUp.statusCode).toBe(201);

  // 1. Partitioned: Redis keeps the list cached before the outage.
  expect(await orderIds(headers)).toEqual([]);
  await waitFor(async () => (await cachedOrders(userId)) !== null, 'the empty order list is cached');
  const staleList = await cachedOrders(userId);

  proxy.sever();
  const first = await quickCheckout(headers, game);
  expect(await pendingListInvalidations(userId)).toBeGreaterThan(0);
  // Served from PostgreSQL meanwhile.
  expect(await orderIds(headers)).toEqual([first]);

  proxy.restore();
  await waitFor(async () => (await shop.cache.health()) === 'ok', 'the shop reaches Redis again');
  // Nothing in an API-only process drains the outbox: the entry from before the outage is still there, and
  // only the outbox message stands between it and the shoppers.
  expect(await cachedOrders(userId)).toBe(staleList);
  expect(await pendingListInvalidations(userId)).toBeGreaterThan(0);

  await startInvalidationWorker();
  await waitFor(async () => (await pendingInvalidations()) === 0, 'invalidations drained', 20_000);
  expect(await cachedOrders(userId)).not.toBe(staleList);
  expect(await orderIds(headers)).toEqual([first]);

  // 2. Hung: the port stays open, Redis answers nothing. The worker runs from now on: it fails to deliver
  // and keeps the message until Redis answers.
  expect(await orderIds(headers)).toEqual([first]);
  // Reads fill the list once the cache is trusted again (every invalidation pending from the outage applied).
  await waitFor(async () => {
    await orderIds(headers);
    return (await cachedOrders(userId))?.includes(first);
  }, 'the one-order list is cached');
  redis.freeze();
  const second = await quickCheckout(headers, game);
  expect(await pendingListInvalidations(userId)).toBeGreaterThan(0);
  expect(await orderIds(headers)).toEqual([second, first]);
  await triedAndKept(userId);
  redis.thaw();
  await waitFor(async () => (await pendingInvalidations()) === 0, 'invalidations drained', 20_000);
  expect(await orderIds(headers)).toEqual([second, first]);

  // 3. Stopped: connections refused until it starts again (empty).
  await waitFor(async () => {
    await orderIds(headers);
    return (await cachedOrders(userId))?.includes(second);
  }, 'the two-order list is cached');
  await redis.stop();
  const third = await quickCheckout(headers, game);
  expect(await pendingListInvalidations(userId)).toBeGreaterThan(0);
  expect(await orderIds(headers)).toEqual([third, second, first]);
  await triedAndKept(userId);
  await redis.start();
  await waitFor(async () => (await pendingInvalidations()) === 0, 'invalidations drained', 20_000);
  expect(await orderIds(headers)).toEqual([third, second, first]);

  const me = await http.get('/me', headers);
  expect(me.json().balanceCents).toBe(10_000 - 3 * 1000);
  expect(await ledgerViolations(shop.db)).toEqual([]);
});
