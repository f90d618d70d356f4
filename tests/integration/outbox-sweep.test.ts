import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { outboxQueuePolicies } from '../../src/adapters/jobs/outbox-queues.js';
import { sweepOutbox } from '../../src/adapters/jobs/outbox-sweeper.js';
import { startTestShop, waitFor, type TestShop } from '../support/test-shop.js';
import pino from 'pino';

let shop: TestShop;
const policies = outboxQueuePolicies({ emailMaxAttempts: 3 });

beforeAll(async () => {
  shop = await startTestShop({ outboxPolicies: policies });
});
afterAll(() => shop?.dispose());

async function orphanRow(attempts: number) {
  const row = await shop.db
    .insertInto('outbox')
    .values({
      topic: 'email.send',
      payload: JSON.stringify({
        to: 'orphan@example.com',
        subject: 'Hello',
        text: 'A message whose job died.',
      }),
      job_id: randomUUID(),
      attempts,
      created_at: sql<Date>`now() - interval '1 hour'`,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return String(row.id);
}

const statusOf = async (id: string) =>
  (await shop.db.selectFrom('outbox').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

it('gives a pending row whose job vanished a new job, and buries one whose attempts are spent', async () => {
  const retriable = await orphanRow(1);
  const spent = await orphanRow(3);
  const fresh = await shop.db
    .insertInto('outbox')
    .values({
      topic: 'email.send',
      payload: JSON.stringify({ to: 'x@example.com', subject: 's', text: 't' }),
      job_id: randomUUID(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();

  const result = await sweepOutbox({
    boss: shop.boss,
    db: shop.db,
    policies,
    logger: pino({ level: 'silent' }),
  });
  expect(result).toEqual({ resent: 1, buried: 1, pruned: 0 });

  await waitFor(async () => (await statusOf(retriable)) === 'done', 'the re-sent row delivered');
  expect(await statusOf(spent)).toBe('dead');
  // A young row is left to its own job.
  expect(await statusOf(String(fresh.id))).toBe('pending');
  expect(
    await sweepOutbox({ boss: shop.boss, db: shop.db, policies, logger: pino({ level: 'silent' }) }),
  ).toEqual({
    resent: 0,
    buried: 0,
    pruned: 0,
  });

  // A week after delivery the row goes.
  await shop.db
    .updateTable('outbox')
    .set({ processed_at: sql<Date>`now() - interval '8 days'` })
    .where('id', '=', retriable)
    .execute();
  const swept = await sweepOutbox({
    boss: shop.boss,
    db: shop.db,
    policies,
    logger: pino({ level: 'silent' }),
  });
  expect(swept.pruned).toBe(1);
  expect(await shop.db.selectFrom('outbox').select('id').where('id', '=', retriable).execute()).toEqual([]);
});
