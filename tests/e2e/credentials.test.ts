import { randomUUID } from 'node:crypto';
import bcrypt from 'bcrypt';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BcryptPasswordHasher } from '../../src/adapters/security/bcrypt-password-hasher.js';
import { ApiClient } from '../support/http.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

// Passwords and e-mail addresses at the edges: bcrypt's 72-byte truncation, a cost raised after accounts
// exist, and addresses that look alike or hide characters.

let shop: TestShop;
let http: ApiClient;

beforeAll(async () => {
  shop = await startTestShop({ role: 'api' });
  http = new ApiClient(shop);
});
afterAll(() => shop?.dispose());

const storedHash = async (db: TestShop['db'], email: string) =>
  (await sql<{ password_hash: string }>`SELECT password_hash FROM users WHERE email = ${email}`.execute(db))
    .rows[0]?.password_hash;

describe('passwords at sign-in follow the sign-up rule', () => {
  it('a 72-byte password followed by anything does not sign in', async () => {
    const email = `long-${randomUUID()}@example.com`;
    const password = 'p'.repeat(72);
    expect((await http.post('/auth/register', { email, password })).statusCode).toBe(201);
    expect((await http.post('/auth/login', { email, password })).statusCode).toBe(200);
    for (const longer of [`${password}x`, `${password}${'anything at all'.repeat(5)}`]) {
      const response = await http.post('/auth/login', { email, password: longer });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'INVALID_CREDENTIALS' });
    }
  });

  it('counts bytes, not characters: 24 three-byte characters fit, a 25th does not', async () => {
    const email = `wide-${randomUUID()}@example.com`;
    const password = '€'.repeat(24);
    expect((await http.post('/auth/register', { email, password })).statusCode).toBe(201);
    expect((await http.post('/auth/login', { email, password })).statusCode).toBe(200);
    expect((await http.post('/auth/login', { email, password: `${password}€` })).statusCode).toBe(401);
  });
});

describe('a raised BCRYPT_COST', () => {
  it('checks unknown e-mails at the cost of the stored hashes and rehashes each password at its next sign-in', async () => {
    const first = await startTestShop({ role: 'api', env: { BCRYPT_COST: '4' } });
    try {
      const emails = [0, 1, 2].map(() => `cost-${randomUUID()}@example.com`);
      const firstHttp = new ApiClient(first);
      for (const email of emails)
        expect((await firstHttp.post('/auth/register', { email, password: 'long enough' })).statusCode).toBe(
          201,
        );

      // The operator raises the cost and restarts on the same database.
      const raised = await startTestShop({
        role: 'api',
        databaseUrl: first.databaseUrl,
        env: { BCRYPT_COST: '6' },
      });
      try {
        const hasher = raised.passwordHasher as BcryptPasswordHasher;
        expect(hasher.dummyCost).toBe(4);
        const raisedHttp = new ApiClient(raised);
        expect(bcrypt.getRounds((await storedHash(raised.db, emails[0]!))!)).toBe(4);
        expect(
          (await raisedHttp.post('/auth/login', { email: emails[0], password: 'long enough' })).statusCode,
        ).toBe(200);
        expect(bcrypt.getRounds((await storedHash(raised.db, emails[0]!))!)).toBe(6);
        // The stronger hash still signs in; a wrong password still does not; the others wait for their owners.
        expect(
          (await raisedHttp.post('/auth/login', { email: emails[0], password: 'long enough' })).statusCode,
        ).toBe(200);
        expect(
          (await raisedHttp.post('/auth/login', { email: emails[0], password: 'wrong guess' })).statusCode,
        ).toBe(401);
        expect(bcrypt.getRounds((await storedHash(raised.db, emails[1]!))!)).toBe(4);
      } finally {
        await raised.close();
      }
    } finally {
      await first.dispose();
    }
  });

  it('a fresh database checks unknown e-mails at the configured cost', () => {
    expect((shop.passwordHasher as BcryptPasswordHasher).dummyCost).toBe(shop.config.bcryptCost);
  });
});

describe('e-mail addresses', () => {
  it('are one account whether typed composed (NFC) or decomposed (NFD)', async () => {
    const tag = randomUUID().slice(0, 8);
    const composed = `jos\u00e9-${tag}@example.com`;
    const decomposed = `jose\u0301-${tag}@example.com`;
    const created = await http.post('/auth/register', { email: decomposed, password: 'long enough' });
    expect(created.statusCode).toBe(201);
    expect(created.json().user.email).toBe(composed);
    const again = await http.post('/auth/register', { email: composed, password: 'long enough' });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'EMAIL_TAKEN' });
    expect((await http.post('/auth/login', { email: composed, password: 'long enough' })).statusCode).toBe(
      200,
    );
    expect((await http.post('/auth/login', { email: decomposed, password: 'long enough' })).statusCode).toBe(
      200,
    );
  });

  it.each([
    ['a right-to-left override', 'moc.elpmaxe\u202e@evil.com'],
    ['a zero-width space', 'adm\u200bin@example.com'],
    ['a control character', 'adm\u0007in@example.com'],
    ['a soft hyphen', 'adm\u00adin@example.com'],
  ])('holding %s are refused with 400 and create nothing', async (_name, email) => {
    const before = (await sql<{ n: string }>`SELECT count(*) AS n FROM users`.execute(shop.db)).rows[0]!.n;
    const response = await http.post('/auth/register', { email, password: 'long enough' });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'email' });
    const after = (await sql<{ n: string }>`SELECT count(*) AS n FROM users`.execute(shop.db)).rows[0]!.n;
    expect(after).toBe(before);
  });
});
