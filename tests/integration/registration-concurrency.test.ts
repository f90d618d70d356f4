import { afterAll, beforeAll, expect, it } from 'vitest';
import { outboxJobs } from '../support/outbox.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

let shop: TestShop;

beforeAll(async () => {
  shop = await startTestShop();
});
afterAll(() => shop?.dispose());

it('20 parallel registrations of one e-mail create exactly one account and one e-mail', async () => {
  const responses = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      shop.app!.inject({
        method: 'POST',
        url: '/api/v1/auth/register',
        payload: { email: i % 2 ? 'Race@Example.com' : ' race@example.com', password: `password ${i}` },
      }),
    ),
  );
  const statuses = responses.map((r) => r.statusCode).sort();
  expect(statuses.filter((s) => s === 201)).toHaveLength(1);
  expect(statuses.filter((s) => s === 409)).toHaveLength(19);
  for (const r of responses.filter((r) => r.statusCode === 409)) expect(r.json().code).toBe('EMAIL_TAKEN');

  const users = await shop.db
    .selectFrom('users')
    .select('id')
    .where('email', '=', 'race@example.com')
    .execute();
  expect(users).toHaveLength(1);
  const emails = await outboxJobs(shop.db, 'email.send');
  expect(emails).toHaveLength(1);
  const tokens = await shop.db.selectFrom('refresh_tokens').select('id').execute();
  expect(tokens).toHaveLength(1);
});
