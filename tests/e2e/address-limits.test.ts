import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { api } from '../support/http.js';
import { RedisProcess } from '../support/redis-process.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

// AUTH_RATE_LIMIT_PER_IP (sign-ups plus failed sign-ins per client address per minute) and
// GUEST_SESSION_RATE_LIMIT_PER_IP (guest sessions started per address per minute), sent the way an attacker
// sends them: many at once, from one address, and read back from the database.

const shops: TestShop[] = [];
afterEach(async () => {
  await Promise.all(shops.splice(0).map((shop) => shop.dispose()));
});

async function shopWith(
  env: Record<string, string>,
  options: { withoutRedis?: boolean; redisUrl?: string } = {},
) {
  const shop = await startTestShop({
    role: 'api',
    withoutRedis: options.withoutRedis,
    env: {
      AUTH_RATE_LIMIT_PER_IP: '30',
      LOGIN_RATE_LIMIT: '1000000',
      ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
      ...env,
    },
  });
  shops.push(shop);
  return shop;
}

const ATTACKER = '203.0.113.7';
const BYSTANDER = '198.51.100.20';

function login(shop: TestShop, email: string, password: string, from = ATTACKER) {
  return shop.app!.inject({
    method: 'POST',
    url: api('/auth/login'),
    remoteAddress: from,
    payload: { email, password },
  });
}

function register(shop: TestShop, email: string, from = ATTACKER) {
  return shop.app!.inject({
    method: 'POST',
    url: api('/auth/register'),
    remoteAddress: from,
    payload: { email, password: 'long enough' },
  });
}

const userCount = async (shop: TestShop) =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM users`.execute(shop.db)).rows[0]!.n);

/** 50 sign-ins with distinct unknown e-mails at once from one address, as the attack measured. */
async function loginFlood(shop: TestShop) {
  const responses = await Promise.all(
    Array.from({ length: 50 }, () => login(shop, `${randomUUID()}@example.com`, 'wrong password')),
  );
  const statuses = responses.map((r) => r.statusCode);
  return {
    responses,
    unauthorized: statuses.filter((s) => s === 401).length,
    limited: responses.filter((r) => r.statusCode === 429),
  };
}

describe('password work per client address (AUTH_RATE_LIMIT_PER_IP)', () => {
  it('lets 30 of 50 concurrent failed sign-ins from one address do bcrypt work and answers the rest 429 with Retry-After', async () => {
    const shop = await shopWith({});
    const { unauthorized, limited } = await loginFlood(shop);
    expect(unauthorized).toBe(30);
    expect(limited).toHaveLength(20);
    for (const response of limited) {
      expect(response.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
      const retryAfter = Number(response.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
  });

  it('keeps a client at another address signing in while one address is flooding', async () => {
    const shop = await shopWith({});
    expect((await register(shop, 'bystander@example.com', BYSTANDER)).statusCode).toBe(201);
    await loginFlood(shop);
    expect((await login(shop, 'bystander@example.com', 'long enough', ATTACKER)).statusCode).toBe(429);
    expect((await login(shop, 'bystander@example.com', 'long enough', BYSTANDER)).statusCode).toBe(200);
  });

  it('does not count a sign-in that succeeds', async () => {
    const shop = await shopWith({ AUTH_RATE_LIMIT_PER_IP: '5' });
    expect((await register(shop, 'regular@example.com')).statusCode).toBe(201);
    for (let n = 0; n < 12; n++)
      expect((await login(shop, 'regular@example.com', 'long enough')).statusCode).toBe(200);
    // One sign-up spent; four failed sign-ins fit, the fifth does not.
    for (let n = 0; n < 4; n++)
      expect((await login(shop, 'regular@example.com', 'wrong one!')).statusCode).toBe(401);
    expect((await login(shop, 'regular@example.com', 'wrong one!')).statusCode).toBe(429);
  });

  it('counts sign-ups: the one past the limit is 429 and creates no account', async () => {
    const shop = await shopWith({ AUTH_RATE_LIMIT_PER_IP: '3' });
    const responses = await Promise.all(
      Array.from({ length: 6 }, () => register(shop, `${randomUUID()}@example.com`)),
    );
    expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(3);
    expect(responses.filter((r) => r.statusCode === 429)).toHaveLength(3);
    expect(await userCount(shop)).toBe(3);
  });

  it('is one count across processes that share one database', async () => {
    const first = await shopWith({ AUTH_RATE_LIMIT_PER_IP: '4' });
    const second = await startTestShop({
      role: 'api',
      databaseUrl: first.databaseUrl,
      env: { AUTH_RATE_LIMIT_PER_IP: '4' },
    });
    try {
      const statuses: number[] = [];
      for (let n = 0; n < 6; n++)
        statuses.push(
          (await login(n % 2 ? second : first, `${randomUUID()}@example.com`, 'wrong')).statusCode,
        );
      expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    } finally {
      await second.close();
    }
  });

  it('counts in PostgreSQL when the shop runs without Redis', async () => {
    const shop = await shopWith({}, { withoutRedis: true });
    const { unauthorized, limited } = await loginFlood(shop);
    expect(unauthorized).toBe(30);
    expect(limited).toHaveLength(20);
  });

  it('limits sign-ins and never waits on a Redis that hangs (SIGSTOP): the count is in PostgreSQL', async () => {
    const redis = await RedisProcess.onFreePort();
    await redis.start();
    try {
      const shop = await shopWith({ AUTH_RATE_LIMIT_PER_IP: '5' }, { redisUrl: redis.url });
      redis.freeze();
      const statuses: number[] = [];
      for (let n = 0; n < 7; n++)
        statuses.push((await login(shop, `${randomUUID()}@example.com`, 'wrong')).statusCode);
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
      // Nothing of a sign-in went to Redis: its guard never saw a call fail.
      expect(shop.redisGuard!.state).toBe('closed');
    } finally {
      await redis.stop();
    }
  });
});

describe('sign-ins per address and e-mail (LOGIN_RATE_LIMIT)', () => {
  it('counts every spelling of one address together: NFC, NFD and case', async () => {
    const shop = await shopWith({ LOGIN_RATE_LIMIT: '3', AUTH_RATE_LIMIT_PER_IP: '1000' });
    const composed = `jos\u00e9-${randomUUID().slice(0, 8)}@example.com`;
    expect((await register(shop, composed, BYSTANDER)).statusCode).toBe(201);
    const spellings = [composed, composed.normalize('NFD'), composed.toUpperCase()];
    const statuses: number[] = [];
    for (const email of [...spellings, ...spellings])
      statuses.push((await login(shop, email, 'wrong guess')).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429, 429, 429]);
    expect((await login(shop, composed.normalize('NFD'), 'long enough')).statusCode).toBe(429);
  });
});

describe('guest sessions per client address (GUEST_SESSION_RATE_LIMIT_PER_IP)', () => {
  it('stores at most the limit of guest sessions from one address a minute', async () => {
    const shop = await shopWith({ GUEST_SESSION_RATE_LIMIT_PER_IP: '5' });
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        shop.app!.inject({ method: 'POST', url: api('/sessions'), remoteAddress: ATTACKER }),
      ),
    );
    expect(responses.filter((r) => r.statusCode === 201)).toHaveLength(5);
    const limited = responses.filter((r) => r.statusCode === 429);
    expect(limited).toHaveLength(15);
    expect(limited[0]!.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited[0]!.headers['retry-after']).toBeDefined();
    const stored = await sql<{ n: string }>`SELECT count(*) AS n FROM guest_sessions`.execute(shop.db);
    expect(Number(stored.rows[0]!.n)).toBe(5);
    const elsewhere = await shop.app!.inject({
      method: 'POST',
      url: api('/sessions'),
      remoteAddress: BYSTANDER,
    });
    expect(elsewhere.statusCode).toBe(201);
  });
});

afterAll(async () => {
  await Promise.all(shops.splice(0).map((shop) => shop.dispose()));
});
