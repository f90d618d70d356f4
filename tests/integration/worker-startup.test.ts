import { afterEach, expect, it } from 'vitest';
import { createTestDatabase } from '../support/services.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

// Processes of one shop start together (a deployment, a restart after an outage): each creates the pg-boss
// queues it works, which is DDL; none may fail, or wait on a deadlock, because another creates its queues at
// the same moment.
it('three worker processes started at once on a fresh database all come up, three times over', async () => {
  for (let round = 0; round < 3; round++) {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const started = await Promise.allSettled(
      [0, 1, 2].map(() => startTestShop({ role: 'worker', databaseUrl: database.url })),
    );
    const shops = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    for (const shop of shops) cleanups.push(() => shop.close());
    const failures = started.flatMap((result) =>
      result.status === 'rejected' ? [String((result.reason as Error).message)] : [],
    );
    expect(failures, `round ${round}`).toEqual([]);
    await expectEveryQueueOnce(shops[0]!);
    await Promise.all(shops.map((shop) => shop.close()));
  }
}, 60_000);

// A worker creates pg-boss's own scheduling queue as pg-boss starts, while API processes create theirs.
it('two API processes and a worker started at once on a fresh database all come up, five times over', async () => {
  for (let round = 0; round < 5; round++) {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const started = await Promise.allSettled(
      (['api', 'worker', 'api'] as const).map((role) => startTestShop({ role, databaseUrl: database.url })),
    );
    const shops = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    for (const shop of shops) cleanups.push(() => shop.close());
    const failures = started.flatMap((result) =>
      result.status === 'rejected' ? [String((result.reason as Error).message)] : [],
    );
    expect(failures, `round ${round}`).toEqual([]);
    await expectEveryQueueOnce(shops[0]!);
    await Promise.all(shops.map((shop) => shop.close()));
  }
}, 90_000);

async function expectEveryQueueOnce(shop: TestShop) {
  const queues = await shop.db
    .selectFrom('pgboss.queue' as never)
    .select('name' as never)
    .execute();
  const names = queues.map((row) => (row as { name: string }).name);
  expect(names.length).toBeGreaterThanOrEqual(8);
  expect(new Set(names).size).toBe(names.length);
}
