import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type KyselyPlugin } from 'kysely';
import pg from 'pg';
import { Pool, type Dispatcher } from 'undici';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  DEMAND_TTL_MS,
  gcraShape,
  SharedG2ARateLimiter,
  SYNC_SHARE_UNDER_DEMAND,
  type G2APriority,
  type GcraShape,
  type GcraStore,
} from '../../src/adapters/g2a/g2a-rate-limiter.js';
import { SIMULATOR_DEV_CREDENTIALS } from '../../src/adapters/g2a/simulator-defaults.js';
import { UndiciG2AClient } from '../../src/adapters/g2a/undici-g2a-client.js';
import { createDb, type Db } from '../../src/adapters/postgres/db.js';
import { PostgresGcraStore } from '../../src/adapters/postgres/postgres-gcra-store.js';
import { withDatabase } from '../support/database-url.js';
import { startSimulator } from '../support/g2a.js';
import { createTestDatabase } from '../support/services.js';
import { busiestWindow } from '../support/busiest-window.js';

// G2A's limit in these tests: 30 requests in any 2 s (a short window, so that a test sees whole windows). The
// limiter keeps 29 of them (the safety margin), one slot every 74.075 ms after a burst of 3.
const LIMIT = 30;
const WINDOW_MS = 2_000;
const BURST = 3;
const SHAPE = gcraShape(LIMIT, WINDOW_MS, BURST);
const KEPT = 29;
/**
 * Grant times are taken in this process when the caller's sleep until its slot ended: a few ms after the slot
 * on the database's clock (the answer's way back, the timer), now and then a few tens on this shared machine.
 */
const SLACK_MS = 30;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const now = () => performance.timeOrigin + performance.now();

interface Grant {
  /** When `acquire` was called, and when it resolved. */
  askedAt: number;
  at: number;
  /** How many grants its caller had before this one. */
  round: number;
  priority: G2APriority;
  /** Which limiter instance (process) granted it. */
  source: string;
}

/** Grants over the most a saturated GCRA of `shape` could grant between the first and the last of them. */
function throughputRatio(times: number[], shape: GcraShape): number {
  const sorted = [...times].sort((a, b) => a - b);
  const span = (sorted.at(-1) as number) - (sorted[0] as number);
  const burst = Math.round(shape.toleranceMs / shape.intervalMs) + 1;
  return sorted.length / (burst + span / shape.intervalMs);
}

function percentile(values: number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] as number;
}

const median = (values: number[]) => percentile(values, 0.5);

/** `count` callers of `limiter` asking back to back with `priority` until `stop()` is true. */
function callers(
  limiter: SharedG2ARateLimiter,
  priority: G2APriority,
  count: number,
  stop: () => boolean,
  grants: Grant[],
  source: string,
): Promise<unknown> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      for (let round = 0; !stop(); round++) {
        const askedAt = now();
        await limiter.acquire(priority);
        grants.push({ askedAt, at: now(), round, priority, source });
      }
    }),
  );
}

/** A store that counts the calls it passes on. */
function counting(store: GcraStore): GcraStore & { calls: number } {
  const counted = {
    calls: 0,
    reserve: (priority: G2APriority, shape: GcraShape) => {
      counted.calls++;
      return store.reserve(priority, shape);
    },
  };
  return counted;
}

async function databaseUrl(): Promise<string> {
  const database = await createTestDatabase();
  cleanups.push(() => database.drop());
  return database.url;
}

/** A pool of its own, as another process would have. */
function pool(url: string): Db {
  const db = createDb(url, { max: 4, applicationName: 'g2a-rate-limiter-test' });
  cleanups.push(() => db.destroy());
  return db;
}

/** Two stores over one database, each with a pool of its own (two processes). */
async function twoStores(plugin?: KyselyPlugin): Promise<[PostgresGcraStore, PostgresGcraStore]> {
  const url = await databaseUrl();
  const db = () => (plugin ? pool(url).withPlugin(plugin) : pool(url));
  return [new PostgresGcraStore(db()), new PostgresGcraStore(db())];
}

const reservation = new AsyncLocalStorage<{ databaseNow?: number }>();
/** Notes the database's "now" of the reservation under way: the store's locking read answers it. */
const databaseClock: KyselyPlugin = {
  transformQuery: (args) => args.node,
  transformResult: async (args) => {
    const row = args.result.rows[0];
    const noted = reservation.getStore();
    if (noted && row && 'now_ms' in row) noted.databaseNow = Number(row.now_ms);
    return args.result;
  },
};

/**
 * A store (over a pool with `databaseClock`) that notes each slot it hands out, on the database's clock: the
 * store's own schedule, without the way back of its answer or the caller's timer.
 */
function notingSlots(store: GcraStore, slots: number[]): GcraStore {
  return {
    reserve: async (priority, shape) => {
      const noted: { databaseNow?: number } = {};
      const answer = await reservation.run(noted, () => store.reserve(priority, shape));
      if ('slotInMs' in answer) slots.push((noted.databaseNow ?? Number.NaN) + answer.slotInMs);
      return answer;
    },
  };
}

async function readRow(db: Db, name: string) {
  const row = await db
    .selectFrom('rate_limiters')
    .select(['tat_ms', 'demand_until_ms'])
    .where('name', '=', name)
    .executeTakeFirstOrThrow();
  return { tat: Number(row.tat_ms), demandUntil: Number(row.demand_until_ms) };
}

/** The database's clock, the one the store reserves on. */
async function databaseNow(db: Db): Promise<number> {
  const { rows } = await sql<{
    now_ms: number;
  }>`SELECT extract(epoch FROM clock_timestamp()) * 1000 AS now_ms`.execute(db);
  return Number(rows[0]!.now_ms);
}

describe('the shared limiter on PostgreSQL', () => {
  it('lets no more than the limit through in any window, across two processes, at close to the limit', async () => {
    const slots: number[] = [];
    const processes = (await twoStores(databaseClock)).map(
      (store) => new SharedG2ARateLimiter(notingSlots(store, slots), SHAPE),
    );
    const grants: Grant[] = [];
    const deadline = Date.now() + 3_000;
    const stop = () => Date.now() >= deadline;
    await Promise.all(
      processes.map((limiter, index) => callers(limiter, 'fulfilment', 8, stop, grants, `p${index}`)),
    );

    const times = grants.map((grant) => grant.at);
    // The store's schedule: slots rounded up to the millisecond (the answer is whole ms), hence W - 1.
    const scheduled = busiestWindow(slots, WINDOW_MS - 1);
    const departed = busiestWindow(times, WINDOW_MS);
    const narrow = busiestWindow(times, WINDOW_MS - SLACK_MS);
    const wide = busiestWindow(times, WINDOW_MS + SLACK_MS);
    // How late the callers left after their slot (both clocks are this machine's).
    const sortedSlots = [...slots].sort((a, b) => a - b);
    const lateness = [...times].sort((a, b) => a - b).map((at, index) => at - (sortedSlots[index] as number));
    const ratio = throughputRatio(times, SHAPE);
    const byProcess = grants.filter((grant) => grant.source === 'p0').length / grants.length;
    console.info(
      `two processes: ${grants.length} grants; busiest ${WINDOW_MS} ms window of the store's slots ${scheduled} ` +
        `(kept ${KEPT}); of the departures: busiest ${WINDOW_MS} ms window ${departed} (limit ${LIMIT}), ` +
        `${WINDOW_MS - SLACK_MS} ms ${narrow}, ${WINDOW_MS + SLACK_MS} ms ${wide}; departures after their slot: median ` +
        `${median(lateness).toFixed(1)} ms, max ${Math.max(...lateness).toFixed(1)}; ` +
        `throughput ${ratio.toFixed(3)} of the shape's; first process ${(byProcess * 100).toFixed(0)}%`,
    );
    expect(slots).toHaveLength(grants.length);
    expect(slots.every((slot) => Number.isFinite(slot))).toBe(true);
    // The store keeps its margin: no more than the kept 29 slots in any window...
    expect(scheduled).toBeLessThanOrEqual(KEPT);
    // ...so that the departures, each a few ms (now and then a few tens) after its slot, hold G2A's 30.
    expect(departed).toBeLessThanOrEqual(LIMIT);
    expect(ratio).toBeGreaterThan(0.9);
    // Both processes are served (neither starves the other).
    expect(byProcess).toBeGreaterThan(0.25);
    expect(byProcess).toBeLessThan(0.75);
  });

  it('keeps a sync to its share while fulfilment asks, and gives it the whole rate once fulfilment stopped', async () => {
    // A faster shape, so that a 5% share is many grants: 99 kept of 100 a second, one every 10.527 ms, a
    // yielding sync every 210.54 ms.
    const shape = gcraShape(100, 1_000, 5);
    const [first, second] = await twoStores();
    const fulfilment = new SharedG2ARateLimiter(first, shape);
    const sync = new SharedG2ARateLimiter(second, shape);
    const grants: Grant[] = [];

    // Fulfilment asks first, so its demand is known before any sync asks.
    await fulfilment.acquire('fulfilment');
    const demandFrom = now();
    const fulfilmentUntil = Date.now() + 2_000;
    let fulfilmentStoppedAt = Infinity;
    const fulfilmentDone = callers(
      fulfilment,
      'fulfilment',
      6,
      () => Date.now() >= fulfilmentUntil,
      grants,
      'f',
    ).then(() => {
      fulfilmentStoppedAt = Math.max(...grants.filter((g) => g.priority === 'fulfilment').map((g) => g.at));
    });
    const syncDone = callers(
      sync,
      'sync',
      3,
      () => Date.now() >= fulfilmentStoppedAt + DEMAND_TTL_MS + 1_200,
      grants,
      's',
    );
    await Promise.all([fulfilmentDone, syncDone]);

    const syncTimes = grants.filter((g) => g.priority === 'sync').map((g) => g.at);
    const underDemand = grants.filter((g) => g.at <= fulfilmentStoppedAt);
    const syncUnderDemand = underDemand.filter((g) => g.priority === 'sync').length;
    const demandMs = fulfilmentStoppedAt - demandFrom;
    const promised = demandMs / shape.yieldIntervalMs;
    const share = syncUnderDemand / underDemand.length;
    const demandRatio = throughputRatio(
      underDemand.map((g) => g.at),
      shape,
    );
    // Fulfilment's last slot keeps its demand for DEMAND_TTL_MS: the sync still yields...
    const stillYielding = syncTimes.filter(
      (at) => at > fulfilmentStoppedAt && at < fulfilmentStoppedAt + DEMAND_TTL_MS - SLACK_MS,
    ).length;
    // ...and then takes the whole rate (once its callers asked again, within one sync interval).
    const freeFrom = fulfilmentStoppedAt + DEMAND_TTL_MS + shape.yieldIntervalMs + SLACK_MS;
    const free = syncTimes.filter((at) => at >= freeFrom);
    const freeRatio = throughputRatio(free, { ...shape, toleranceMs: 0 });
    const firstFast = syncTimes.find(
      (at, index) => at > fulfilmentStoppedAt && index > 0 && at - (syncTimes[index - 1] as number) < 50,
    );
    console.info(
      `priority: under demand (${demandMs.toFixed(0)} ms) sync ${syncUnderDemand} of ${underDemand.length} grants ` +
        `(${(share * 100).toFixed(1)}%, promised ${(SYNC_SHARE_UNDER_DEMAND * 100).toFixed(0)}% = ${promised.toFixed(1)}), ` +
        `throughput ${demandRatio.toFixed(3)}; ` +
        `${stillYielding} sync grants in the ${DEMAND_TTL_MS} ms after; sync at full rate ` +
        `${firstFast === undefined ? 'never' : `${(firstFast - fulfilmentStoppedAt).toFixed(0)} ms`} after fulfilment stopped, ` +
        `then ${free.length} grants at ${freeRatio.toFixed(3)} of the rate`,
    );

    // At most its share (plus the grant in progress), and not much less.
    expect(syncUnderDemand).toBeLessThanOrEqual(Math.floor(promised) + 2);
    expect(syncUnderDemand).toBeGreaterThanOrEqual(Math.floor(promised * 0.8));
    expect(share).toBeGreaterThan(SYNC_SHARE_UNDER_DEMAND * 0.7);
    expect(share).toBeLessThan(SYNC_SHARE_UNDER_DEMAND * 1.3);
    // Fulfilment takes the rest: together they use the whole rate.
    expect(demandRatio).toBeGreaterThan(0.85);
    expect(stillYielding).toBeLessThanOrEqual(Math.ceil(DEMAND_TTL_MS / shape.yieldIntervalMs) + 1);
    expect(firstFast).toBeDefined();
    expect(firstFast! - fulfilmentStoppedAt).toBeGreaterThan(DEMAND_TTL_MS - SLACK_MS);
    expect(firstFast! - fulfilmentStoppedAt).toBeLessThan(DEMAND_TTL_MS + shape.yieldIntervalMs + 100);
    expect(free.length).toBeGreaterThan(30);
    expect(freeRatio).toBeGreaterThan(0.8);
  });

  it.each([20, 40])(
    'with %i fulfilment waiters in two processes, asks the store once a grant and serves them first come first served',
    async (waiters) => {
      // 99 kept of 100 a second: a waiter that asks again at once should wait for every other one, N × 10.527 ms.
      const shape = gcraShape(100, 1_000, 5);
      const stores = (await twoStores()).map(counting);
      const limiters = stores.map((store) => new SharedG2ARateLimiter(store, shape));
      const grants: Grant[] = [];
      const deadline = Date.now() + 2_500;
      await Promise.all(
        limiters.map((limiter, index) =>
          callers(limiter, 'fulfilment', waiters / 2, () => Date.now() >= deadline, grants, `p${index}`),
        ),
      );

      const calls = stores.reduce((sum, store) => sum + store.calls, 0);
      const fair = waiters * shape.intervalMs;
      // The start is a stampede: all of them ask at once, and the store's transactions, one after the other,
      // take a few milliseconds each. From their third request on, each waiter queues behind all the others.
      const steady = grants.filter((g) => g.round >= 2);
      const waits = steady.map((g) => g.at - g.askedAt);
      // First come, first served: how many requests were overtaken by one asked over `lead` ms after them (those
      // asked a few ms apart may reach the store in either order: a transaction takes a few ms, now and then
      // a few tens).
      const overtaken = (lead: number) =>
        steady.filter((earlier) =>
          grants.some((later) => later.askedAt - earlier.askedAt > lead && later.at < earlier.at - 1),
        ).length;
      const withinQuarter = waits.filter((wait) => Math.abs(wait - fair) <= fair * 0.25).length;
      const times = grants.map((g) => g.at);
      const busiest = busiestWindow(times, 1_000 - SLACK_MS);
      const ratio = throughputRatio(times, shape);
      console.info(
        `${waiters} waiters: ${grants.length} grants, ${calls} store calls (${(calls / grants.length).toFixed(3)} a grant); ` +
          `waits from the third request on: median ${median(waits).toFixed(0)} ms, min ${Math.min(...waits).toFixed(0)}, ` +
          `90th percentile ${percentile(waits, 0.9).toFixed(0)}, max ${Math.max(...waits).toFixed(0)} ` +
          `(fair ${fair.toFixed(0)} ms), ${withinQuarter} within 25%; overtaken by a request asked over 5 ms later ` +
          `${overtaken(5)}, over 50 ms ${overtaken(50)}, over 150 ms ${overtaken(150)} (of ${steady.length} requests); ` +
          `busiest ${1_000 - SLACK_MS} ms window ${busiest} (kept 99); throughput ${ratio.toFixed(3)} of the shape's`,
      );
      // One store call per grant (no polling): every call reserved a slot, every caller's last one included.
      expect(calls).toBe(grants.length);
      expect(steady.length).toBeGreaterThan(waiters * 3);
      // Every waiter waits about its turn. (This machine is shared: a database backend that is not scheduled for
      // a while on its way to the lock lets later requests reserve first, and shortens the queue behind it. Waiters
      // that grab slots unordered as they free up would wait any number of turns: with N of them, a wait is
      // within 25% of N turns for under a fifth of the requests, and the longest is about 5 N turns.)
      expect(median(waits)).toBeGreaterThan(fair * 0.9);
      expect(median(waits)).toBeLessThan(fair * 1.1);
      expect(withinQuarter).toBeGreaterThanOrEqual(steady.length * 0.8);
      expect(percentile(waits, 0.9)).toBeLessThan(fair * 1.25);
      expect(Math.max(...waits)).toBeLessThan(fair * 2.5);
      expect(overtaken(150)).toBeLessThanOrEqual(steady.length * 0.05);
      expect(busiest).toBeLessThanOrEqual(99);
      expect(ratio).toBeGreaterThan(0.9);
    },
  );
});

describe('the store’s arithmetic', () => {
  // The production shape for 600 per minute moves on by 101.868 ms a slot.
  const interval = gcraShape(600).intervalMs;
  const GRANTS = 200;

  it('moves the theoretical arrival time on by exactly one interval a grant', async () => {
    // A tolerance so large that every slot is now: the TAT after n grants is exactly n intervals later, the
    // sum that keeps a window to the limit.
    const wide: GcraShape = { intervalMs: interval, toleranceMs: 1e12, yieldIntervalMs: interval * 20 };
    const db = pool(await databaseUrl());
    const store = new PostgresGcraStore(db);
    await store.reserve('fulfilment', wide);
    const start = Date.now() + 10_000_000;
    await db.updateTable('rate_limiters').set({ tat_ms: start }).where('name', '=', 'g2a').execute();
    for (let grant = 0; grant < GRANTS; grant++) {
      expect(await store.reserve('fulfilment', wide)).toEqual({ slotInMs: 0 });
    }
    // Float64 sums at epoch magnitude (a 0.24 µs ulp): within 0.05 ms.
    expect((await readRow(db, 'g2a')).tat - start).toBeCloseTo(GRANTS * interval, 1);
  });

  it('hands out slots one interval apart, and a fulfilment slot extends the demand to the slot + DEMAND_TTL_MS', async () => {
    const shape: GcraShape = { intervalMs: interval, toleranceMs: 0, yieldIntervalMs: interval * 20 };
    const db = pool(await databaseUrl());
    const store = new PostgresGcraStore(db);
    await store.reserve('sync', shape);
    // The next slot 10 s from now, no demand.
    const start = (await databaseNow(db)) + 10_000;
    await db
      .updateTable('rate_limiters')
      .set({ tat_ms: start, demand_until_ms: 0 })
      .where('name', '=', 'g2a')
      .execute();

    // A sync without demand reserves the next slot and leaves the demand alone.
    const before = await databaseNow(db);
    const syncSlot = await store.reserve('sync', shape);
    const after = await databaseNow(db);
    expect(syncSlot).toHaveProperty('slotInMs');
    const syncIn = (syncSlot as { slotInMs: number }).slotInMs;
    expect(syncIn).toBeGreaterThanOrEqual(Math.floor(start - after));
    expect(syncIn).toBeLessThanOrEqual(Math.ceil(start - before));
    expect(await readRow(db, 'g2a')).toEqual({ tat: start + interval, demandUntil: 0 });

    // Fulfilment's slots follow, one interval apart; each moves the demand to its slot + DEMAND_TTL_MS.
    for (let n = 1; n <= 5; n++) {
      const answer = await store.reserve('fulfilment', shape);
      expect(answer).toHaveProperty('slotInMs');
      const row = await readRow(db, 'g2a');
      // Float64 at epoch magnitude: a 0.24 µs ulp.
      expect(row.tat).toBeCloseTo(start + (n + 1) * interval, 3);
      expect(row.demandUntil).toBeCloseTo(start + n * interval + DEMAND_TTL_MS, 3);
    }

    // Under that demand a sync gets its share once (its own pace starts now)...
    const share = await store.reserve('sync', shape);
    expect(share).toHaveProperty('slotInMs');
    expect((share as { slotInMs: number }).slotInMs).toBeGreaterThan(10_000 + 5 * interval - 1_000);
    expect((await readRow(db, 'g2a')).tat).toBeCloseTo(start + 7 * interval, 3);
    // ...and is then told to ask again after its yield interval, reserving nothing.
    const [main, own] = [await readRow(db, 'g2a'), await readRow(db, 'g2a:sync')];
    const refused = await store.reserve('sync', shape);
    expect(refused).toHaveProperty('askAgainInMs');
    expect((refused as { askAgainInMs: number }).askAgainInMs).toBeGreaterThan(shape.yieldIntervalMs - 100);
    expect((refused as { askAgainInMs: number }).askAgainInMs).toBeLessThanOrEqual(
      Math.ceil(shape.yieldIntervalMs),
    );
    expect(await readRow(db, 'g2a')).toEqual(main);
    expect(await readRow(db, 'g2a:sync')).toEqual(own);
  });

  // "Now" is read after the rows are locked. Read in the locking statement itself, it would be as old as the
  // wait for the lock whenever the holder commits without changing the rows (a sync told to ask again): a
  // request queued behind a stalled holder would then leave out of the spacing. Here a sync's transaction is
  // held 300 ms between its read and its commit (a stalled process: GC, CPU starvation); the two fulfilment
  // requests queued behind it must still be one interval apart.
  it('spaces two requests by one interval even when the one before them held the lock for a while', async () => {
    const shape: GcraShape = { intervalMs: 200, toleranceMs: 0, yieldIntervalMs: 4_000 };
    const url = await databaseUrl();
    let stall = false;
    // Holds the answer to the limiter's clock read (the row lock with it) while `stall` is set.
    const stalling: KyselyPlugin = {
      transformQuery: (args) => args.node,
      transformResult: async (args) => {
        if (stall && args.result.rows[0] && 'now_ms' in args.result.rows[0]) {
          stall = false;
          await sleep(300);
        }
        return args.result;
      },
    };
    const syncProcess = new PostgresGcraStore(pool(url).withPlugin(stalling));
    const fulfilmentProcess = new PostgresGcraStore(pool(url));
    // Fulfilment wants the rate; the sync spends its share, and the limiter goes idle (demand holds).
    const slot = await fulfilmentProcess.reserve('fulfilment', shape);
    expect(slot).toHaveProperty('slotInMs');
    const share = await syncProcess.reserve('sync', shape);
    if (!('slotInMs' in share)) throw new Error('the sync had no share');
    await sleep(share.slotInMs + 2 * shape.intervalMs);
    // The sync asks again (its share is spent: it will be told to ask again) and its process stalls.
    stall = true;
    const refused = syncProcess.reserve('sync', shape);
    await sleep(50);
    const first = await fulfilmentProcess.reserve('fulfilment', shape);
    const second = await fulfilmentProcess.reserve('fulfilment', shape);
    expect(await refused).toHaveProperty('askAgainInMs');
    expect(first).toEqual({ slotInMs: 0 });
    // One interval after the first, less the few ms between the two calls.
    if (!('slotInMs' in second)) throw new Error('fulfilment was told to ask again');
    expect(second.slotInMs).toBeGreaterThan(150);
    expect(second.slotInMs).toBeLessThanOrEqual(200);
  });
});

describe('PostgresGcraStore', () => {
  it('answers again once the database does, even when its first request failed', async () => {
    const name = `keyshop_t_${randomBytes(6).toString('hex')}`;
    const serverUrl = inject('databaseUrl');
    const admin = async (statement: string) => {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      try {
        await client.query(statement);
      } finally {
        await client.end();
      }
    };
    cleanups.push(() => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    const store = new PostgresGcraStore(pool(withDatabase(serverUrl, name)));
    // The database does not exist yet: the first request fails, as it should.
    await expect(store.reserve('fulfilment', SHAPE)).rejects.toThrow(/does not exist/);
    await admin(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
    // The same store answers now that the database is there (its rows made by this request).
    await expect(store.reserve('fulfilment', SHAPE)).resolves.toEqual({ slotInMs: 0 });
    await expect(store.reserve('fulfilment', SHAPE)).resolves.toEqual({ slotInMs: 0 });
  });
});

describe('the G2A client with the shared limiter', () => {
  /** A client of its own process: a pool and a store of its own over the shared database. */
  const clientOf = (simulatorUrl: string, databaseUrl: string, options: { dispatcher?: Dispatcher } = {}) => {
    const created = new UndiciG2AClient({
      baseUrl: simulatorUrl,
      ...SIMULATOR_DEV_CREDENTIALS,
      limiter: new SharedG2ARateLimiter(new PostgresGcraStore(pool(databaseUrl)), SHAPE),
      timeoutMs: 5_000,
      retryBaseDelayMs: 50,
      ...options,
    });
    cleanups.push(() => created.close());
    return created;
  };

  it('never gets a 429 from a G2A enforcing the same rate, with two clients calling concurrently', async () => {
    const simulator = await startSimulator({ products: 40, ratePerMinute: 60_000 });
    cleanups.push(() => simulator.close());
    const url = await databaseUrl();
    const buyer = clientOf(simulator.url, url);
    const syncer = clientOf(simulator.url, url);
    const product = (await syncer.listProducts({ page: 1 })).docs[0]!;
    const order = await buyer.createOrder({ productId: product.id, maxPriceEur: 1_000_000 });
    // From here on G2A refuses anything past LIMIT requests in any WINDOW_MS (30 per 2 s). Its count starts
    // after the two setup requests, which already spent two of the limiter's burst: see the next test for
    // a count that starts with the limiter's.
    simulator.state.setFaults({ ratePerMinute: (LIMIT * 60_000) / WINDOW_MS, rateWindowMs: WINDOW_MS });
    const before = simulator.state.stats.requests;
    const started = Date.now();
    const deadline = started + 3_000;
    const answered: number[] = [];
    const loop = (count: number, call: () => Promise<unknown>) =>
      Promise.all(
        Array.from({ length: count }, async () => {
          while (Date.now() < deadline) {
            await call();
            answered.push(Date.now());
          }
        }),
      );
    await Promise.all([
      loop(6, () => buyer.getOrderDetails(order.orderId)),
      loop(2, () => syncer.listProducts({ page: 1 })),
    ]);
    const stats = simulator.state.stats;
    // Calls answered before the deadline, against what the shape allows in that time.
    const ratio =
      answered.filter((at) => at < deadline).length / (BURST + (deadline - started) / SHAPE.intervalMs);
    const fulfilmentCalls = stats.byRoute['GET /v1/order/details/:id'] ?? 0;
    const syncCalls = (stats.byRoute['GET /v1/products'] ?? 0) - 1;
    console.info(
      `client: ${stats.requests - before} requests in ${Date.now() - started} ms, ${(ratio * 100).toFixed(1)}% ` +
        `of the shape's rate until the deadline; ${fulfilmentCalls} fulfilment, ${syncCalls} sync ` +
        `(after the setup); ${stats.rateLimited} answered 429`,
    );
    expect(stats.rateLimited).toBe(0);
    expect(ratio).toBeGreaterThan(0.85);
    // The buyer's demand keeps the sync to about its share.
    expect(syncCalls).toBeLessThan((fulfilmentCalls + syncCalls) * SYNC_SHARE_UNDER_DEMAND * 2 + 2);
  });

  it('never gets a 429 when the first request after an idle spell spends 40 ms longer on the way', async () => {
    const simulator = await startSimulator({ products: 40, ratePerMinute: (LIMIT * 60_000) / WINDOW_MS });
    cleanups.push(() => simulator.close());
    // G2A counts from its first request on, like the limiter.
    simulator.state.setFaults({ rateWindowMs: WINDOW_MS });
    let delayed = false;
    const dispatcher = new Pool(simulator.url).compose((dispatch) => (options, handler) => {
      if (delayed) return dispatch(options, handler);
      delayed = true;
      setTimeout(() => dispatch(options, handler), 40);
      return true;
    });
    cleanups.push(() => dispatcher.close());
    const url = await databaseUrl();
    const [first, second] = [clientOf(simulator.url, url, { dispatcher }), clientOf(simulator.url, url)];
    await first.listProducts({ page: 1 });
    const started = Date.now();
    const deadline = started + 2_500;
    await Promise.all(
      [first, second].flatMap((g2a) =>
        Array.from({ length: 4 }, async () => {
          while (Date.now() < deadline) await g2a.listProducts({ page: 1 });
        }),
      ),
    );
    const { requests, rateLimited } = simulator.state.stats;
    const ratio = requests / (BURST + (Date.now() - started) / SHAPE.intervalMs);
    console.info(
      `first request 40 ms slower: ${requests} requests (${(ratio * 100).toFixed(1)}% of the shape's rate), ` +
        `${rateLimited} answered 429`,
    );
    expect(delayed).toBe(true);
    expect(rateLimited).toBe(0);
    expect(ratio).toBeGreaterThan(0.85);
  });
});
