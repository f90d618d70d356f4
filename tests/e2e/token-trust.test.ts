import { createHmac, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, bearer } from '../support/http.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

// What an access token is worth is decided by the account as it is now: a taken-over, demoted or deleted
// account's live tokens stop working at once, and a token the shop would never issue (no expiry, a `sub` that
// is not a user id) is 401, never a 500.

let shop: TestShop;
let http: ApiClient;

beforeAll(async () => {
  shop = await startTestShop({ role: 'api' });
  http = new ApiClient(shop);
});
afterAll(() => shop?.dispose());

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token signed with the shop's own secret, with whatever claims a forger picks. */
function forged(claims: Record<string, unknown>): string {
  const head = `${base64url({ alg: 'HS256', typ: 'JWT' })}.${base64url(claims)}`;
  const signature = createHmac('sha256', shop.config.jwtSecret).update(head).digest('base64url');
  return `${head}.${signature}`;
}

const now = () => Math.floor(Date.now() / 1000);

describe('admin:create on an existing account', () => {
  it('gives the operator the account and signs the earlier holder out everywhere', async () => {
    const email = `ops-${randomUUID()}@example.com`;
    const squatter = await http.registered({ email, password: 'squatter password' });
    expect((await http.get('/me', squatter.headers)).statusCode).toBe(200);

    // Token times have whole seconds: the take-over happens in a later second than the squatter's sign-in, as
    // it would in life.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
    await shop.useCases.createAdmin({ email, password: 'the operator password' });

    for (const path of ['/me', '/cart', '/wishlist', '/orders', '/admin/fulfilment']) {
      const response = await http.get(path, squatter.headers);
      expect(response.statusCode, path).toBe(401);
      expect(response.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    const refreshed = await http.post('/auth/refresh', { refreshToken: squatter.refreshToken });
    expect(refreshed.statusCode).toBe(401);
    expect((await http.post('/auth/login', { email, password: 'squatter password' })).statusCode).toBe(401);

    const operator = await http.post('/auth/login', { email, password: 'the operator password' });
    expect(operator.statusCode).toBe(200);
    expect(operator.json().user.role).toBe('admin');
    const asOperator = bearer(operator.json().accessToken);
    expect((await http.get('/admin/fulfilment', asOperator)).statusCode).toBe(200);
  });
});

describe('the account behind a token, read on every request', () => {
  it('a demoted admin keeps their session but loses /admin at once', async () => {
    const admin = await http.admin();
    expect((await http.get('/admin/fulfilment', admin)).statusCode).toBe(200);
    const me = (await http.get('/me', admin)).json();
    await sql`UPDATE users SET role = 'customer' WHERE id = ${me.id}`.execute(shop.db);
    expect((await http.get('/admin/fulfilment', admin)).statusCode).toBe(403);
    expect((await http.get('/me', admin)).statusCode).toBe(200);
  });

  it('a customer whose token says admin gets no /admin', async () => {
    const { userId } = await http.registered();
    const token = forged({ sub: userId, role: 'admin', iat: now(), exp: now() + 600 });
    expect((await http.get('/admin/fulfilment', bearer(token))).statusCode).toBe(403);
  });

  it('a deleted account is 401 on every route, reads included', async () => {
    const { headers, userId } = await http.registered();
    expect((await http.get('/cart', headers)).statusCode).toBe(200);
    await sql`DELETE FROM users WHERE id = ${userId}`.execute(shop.db);
    for (const path of ['/me', '/cart', '/wishlist', '/orders', '/transactions']) {
      const response = await http.get(path, headers);
      expect(response.statusCode, path).toBe(401);
      expect(response.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
  });
});

describe('tokens the shop never issues', () => {
  it.each([
    ['no exp', () => ({ sub: randomUUID(), role: 'customer', iat: now() })],
    ['no iat', () => ({ sub: randomUUID(), role: 'customer', exp: now() + 600 })],
    [
      'a sub that is not a UUID',
      () => ({ sub: "x' OR 1=1 --", role: 'admin', iat: now(), exp: now() + 600 }),
    ],
    ['a numeric sub', () => ({ sub: 42, role: 'admin', iat: now(), exp: now() + 600 })],
    ['the sub of no account', () => ({ sub: randomUUID(), role: 'admin', iat: now(), exp: now() + 600 })],
    ['an expired one', () => ({ sub: randomUUID(), role: 'customer', iat: now() - 7200, exp: now() - 3600 })],
    [
      'one dated in the future',
      () => ({ sub: randomUUID(), role: 'customer', iat: now() + 3600, exp: now() + 4000 }),
    ],
  ])('%s is 401 UNAUTHORIZED on user, owner and admin routes', async (_name, claims) => {
    const headers = bearer(forged(claims()));
    for (const path of ['/me', '/cart', '/admin/fulfilment']) {
      const response = await http.get(path, headers);
      expect(response.statusCode, path).toBe(401);
      expect(response.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    }
  });

  it('a token of a real account that lives longer than the shop issues is 401', async () => {
    const { userId, headers } = await http.registered();
    expect((await http.get('/me', headers)).statusCode).toBe(200);
    const forever = forged({ sub: userId, role: 'customer', iat: now(), exp: now() + 10 * 365 * 24 * 3600 });
    expect((await http.get('/me', bearer(forever))).statusCode).toBe(401);
    const fair = forged({ sub: userId, role: 'customer', iat: now(), exp: now() + 600 });
    expect((await http.get('/me', bearer(fair))).statusCode).toBe(200);
  });

  it('a token signed with alg none is 401', async () => {
    const token = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: randomUUID(), role: 'admin', iat: now(), exp: now() + 600 })}.`;
    expect((await http.get('/me', bearer(token))).statusCode).toBe(401);
  });
});
