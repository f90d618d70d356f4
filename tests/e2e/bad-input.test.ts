import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../support/ground.js';
import { outboxJobs } from '../support/outbox.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

let shop: TestShop;

beforeAll(async () => {
  shop = await startTestShop();
});
afterAll(() => shop?.dispose());

const register = (payload: string, contentType = 'application/json') =>
  shop.app!.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    headers: { 'content-type': contentType },
    payload,
  });

async function rowCounts() {
  const outbox =
    (await outboxJobs(shop.db, 'email.send')).length + (await outboxJobs(shop.db, 'cache.invalidate')).length;
  return { users: await countRows(shop, 'users'), outbox };
}

describe('bad input gets a documented 4xx and changes nothing', () => {
  const cases: {
    name: string;
    body: string;
    contentType?: string;
    status: number;
    code: string;
    field?: string;
  }[] = [
    { name: 'malformed JSON', body: '{"email": "a@b.co", ', status: 400, code: 'INVALID_JSON' },
    { name: 'an empty JSON body', body: '', status: 400, code: 'INVALID_JSON' },
    { name: 'a JSON array', body: '[]', status: 400, code: 'VALIDATION_FAILED' },
    {
      name: 'a number where a string belongs',
      body: '{"email": 42, "password": "long enough"}',
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'email',
    },
    {
      name: 'a missing field',
      body: '{"email": "x@example.com"}',
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'password',
    },
    {
      name: 'a password too short',
      body: '{"email": "x@example.com", "password": "short"}',
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'password',
    },
    {
      name: 'a password over 72 bytes',
      body: JSON.stringify({ email: 'x@example.com', password: 'é'.repeat(40) }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'password',
    },
    {
      name: 'an invalid e-mail',
      body: '{"email": "not-an-email", "password": "long enough"}',
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'email',
    },
    {
      name: 'an over-long nickname',
      body: JSON.stringify({ email: 'x@example.com', password: 'long enough', nickname: 'n'.repeat(101) }),
      status: 400,
      code: 'VALIDATION_FAILED',
      field: 'nickname',
    },
    {
      name: 'a non-JSON media type',
      body: 'email=x@example.com',
      contentType: 'text/plain',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'a 2 MiB body',
      body: JSON.stringify({
        email: 'x@example.com',
        password: 'long enough',
        nickname: 'x'.repeat(2 * 1024 * 1024),
      }),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
  ];

  for (const c of cases) {
    it(`refuses ${c.name}`, async () => {
      const before = await rowCounts();
      const response = await register(c.body, c.contentType);
      expect(response.statusCode).toBe(c.status);
      const body = response.json();
      expect(body).toMatchObject({
        statusCode: c.status,
        code: c.code,
        error: expect.any(String),
        message: expect.any(String),
      });
      expect(JSON.stringify(body)).not.toMatch(/FST_/);
      if (c.field) {
        expect(body.field).toBe(c.field);
        expect(body.message).toContain(c.field);
      }
      expect(await rowCounts()).toEqual(before);
    });
  }

  it('does not coerce body types: "100" is not a number, true is not a string', async () => {
    const response = await register('{"email": "x@example.com", "password": true}');
    expect(response.statusCode).toBe(400);
    expect(response.json().field).toBe('password');
  });

  it('answers a malformed URL with the shared error body, not a framework code', async () => {
    const response = await shop.app!.inject({ method: 'GET', url: '/api/v1/games/%E0%A4%A' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ statusCode: 400, code: 'BAD_REQUEST' });
  });

  it('answers unknown routes with ROUTE_NOT_FOUND', async () => {
    const response = await shop.app!.inject({ method: 'GET', url: '/api/v1/nope' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND', statusCode: 404 });
  });
});
