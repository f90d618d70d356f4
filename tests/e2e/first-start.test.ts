import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';

let shop: TestShop;

beforeAll(async () => {
  // No G2A credentials: the shop runs the simulator in-process and fills its catalogue at once.
  shop = await startTestShop({ env: { SYNC_SCHEDULES: 'on', G2A_SIMULATOR_PRODUCTS: '45' } });
});
afterAll(() => shop?.dispose());

it('fills an empty catalogue from the in-process simulator right after start', async () => {
  await waitFor(
    async () =>
      (
        await shop.db
          .selectFrom('games')
          .select(sql<number>`count(*)::int`.as('n'))
          .executeTakeFirstOrThrow()
      ).n === 45,
    'the first catalogue sync',
    30_000,
  );
  const list = (await shop.app!.inject({ method: 'GET', url: '/api/v1/games?pageSize=100' })).json();
  expect(list.total).toBe(45);
  const runs = await shop.db.selectFrom('sync_runs').select(['kind', 'trigger']).execute();
  expect(runs).toEqual([{ kind: 'catalog', trigger: 'schedule' }]);
});
