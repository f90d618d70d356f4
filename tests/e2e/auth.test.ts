import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, ApiClient } from '../support/http.js';
import { RecordingMailer } from '../support/recording-mailer.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

let shop: TestShop;
let http: ApiClient;
const mailer = new RecordingMailer();

beforeAll(async () => {
  shop = await startTestShop({ env: { LOGIN_RATE_LIMIT: '5' }, mailer });
  http = new ApiClient(shop);
});
afterAll(() => shop?.dispose());

const register = (email: string, password = 'correct horse', extra: Record<string, unknown> = {}) =>
  http.post('/auth/register', { email, password, ...extra });

const login = (email: string, password: string, ip = '10.0.0.1') =>
  http.request({ method: 'POST', url: api('/auth/login'), payload: { email, password }, remoteAddress: ip });

describe('sign-up and sign-in', () => {
  it('registers, normalises the e-mail, ignores fields a client may not set, and signs in', async () => {
    const response = await register('  Alice@Example.COM ', 'correct horse', {
      nickname: 'alice',
      role: 'admin',
      balanceCents: 1_000_000,
    });
    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body.user).toMatchObject({
      email: 'alice@example.com',
      nickname: 'alice',
      role: 'customer',
      emailVerified: false,
    });
    expect(body.expiresIn).toBe(900);
    expect(body.accessToken).toEqual(expect.any(String));
    expect(body.refreshToken).toEqual(expect.any(String));

    const me = await http.request({
      method: 'GET',
      url: api('/me'),
      headers: { authorization: `Bearer ${body.accessToken}` },
    });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ email: 'alice@example.com', role: 'customer', balanceCents: 0 });

    const again = await register('alice@example.com');
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ statusCode: 409, code: 'EMAIL_TAKEN', error: 'Conflict' });
  });

  it('answers an unknown e-mail and a wrong password with the same error', async () => {
    await register('bob@example.com', 'bob password');
    const wrong = await login('bob@example.com', 'not his password');
    const unknown = await login('nobody@example.com', 'bob password');
    expect(wrong.statusCode).toBe(401);
    expect(unknown.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json().code).toBe('INVALID_CREDENTIALS');

    const ok = await login('BOB@example.com ', 'bob password');
    expect(ok.statusCode).toBe(200);
    expect(ok.json().user.email).toBe('bob@example.com');
  });

  it('rate-limits login attempts per address and e-mail', async () => {
    await register('carol@example.com', 'carol password');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push((await login('carol@example.com', 'guess', '10.9.9.9')).statusCode);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    const limited = await login('carol@example.com', 'carol password', '10.9.9.9');
    expect(limited.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED' });
    // Another address is not affected.
    expect((await login('carol@example.com', 'carol password', '10.9.9.10')).statusCode).toBe(200);
  });

  it('rejects missing, malformed and forged access tokens with UNAUTHORIZED', async () => {
    for (const authorization of [undefined, 'Basic abc', 'Bearer not-a-jwt', `Bearer ${forgedToken()}`]) {
      const response = await http.request({
        method: 'GET',
        url: api('/me'),
        headers: authorization ? { authorization } : {},
      });
      expect(response.statusCode).toBe(401);
      expect(response.json().code).toBe('UNAUTHORIZED');
    }
  });
});

function forgedToken(): string {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from(JSON.stringify({ sub: crypto.randomUUID(), role: 'admin' })).toString(
    'base64url',
  );
  return `${header}.${payload}.${Buffer.from('forged').toString('base64url')}`;
}

describe('refresh tokens', () => {
  it('rotates: a spent token is refused and kills its whole family', async () => {
    const first = (await register('dave@example.com')).json();
    const refresh = (token: string) =>
      http.request({ method: 'POST', url: api('/auth/refresh'), payload: { refreshToken: token } });

    const second = await refresh(first.refreshToken);
    expect(second.statusCode).toBe(200);
    const rotated = second.json();
    expect(rotated.refreshToken).not.toBe(first.refreshToken);
    expect(rotated.user.email).toBe('dave@example.com');

    const replay = await refresh(first.refreshToken);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().code).toBe('TOKEN_REUSED');

    // The legitimate holder's newer token died with the family.
    const afterReuse = await refresh(rotated.refreshToken);
    expect(afterReuse.statusCode).toBe(401);
    expect(afterReuse.json().code).toBe('UNAUTHORIZED');
  });

  it('logout revokes the family; an unknown token is UNAUTHORIZED', async () => {
    const signedIn = (await register('erin@example.com')).json();
    const logout = await http.request({
      method: 'POST',
      url: api('/auth/logout'),
      payload: { refreshToken: signedIn.refreshToken },
    });
    expect(logout.statusCode).toBe(204);
    const refresh = await http.request({
      method: 'POST',
      url: api('/auth/refresh'),
      payload: { refreshToken: signedIn.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    const unknown = await http.request({
      method: 'POST',
      url: api('/auth/refresh'),
      payload: { refreshToken: 'nope' },
    });
    expect(unknown.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED' });
  });
});

describe('e-mail verification', () => {
  it('sends the token through the outbox and accepts it once', async () => {
    const signedIn = (await register('frank@example.com')).json();
    const mail = await mailer.to('frank@example.com');
    const token = /POST \/api\/v1\/auth\/verify-email: (\S+)/.exec(mail.text)?.[1];
    expect(token).toBeDefined();

    const verify = (value: string) =>
      http.request({ method: 'POST', url: api('/auth/verify-email'), payload: { token: value } });
    expect((await verify(token!)).statusCode).toBe(204);
    const me = await http.request({
      method: 'GET',
      url: api('/me'),
      headers: { authorization: `Bearer ${signedIn.accessToken}` },
    });
    expect(me.json().emailVerified).toBe(true);

    const reused = await verify(token!);
    expect(reused.statusCode).toBe(400);
    expect(reused.json().code).toBe('INVALID_TOKEN');
  });
});

describe('the confirmation link', () => {
  it('confirms the address when opened', async () => {
    await register('link@example.com');
    const mail = await mailer.to('link@example.com');
    const link = /(http\S+verify-email\?token=\S+)/.exec(mail.text)?.[1];
    expect(link).toBeDefined();
    const opened = await http.request({
      method: 'GET',
      url: new URL(link!).pathname + new URL(link!).search,
    });
    expect(opened.statusCode).toBe(200);
    expect(opened.json()).toEqual({ verified: true });
    const again = await http.request({
      method: 'GET',
      url: new URL(link!).pathname + new URL(link!).search,
    });
    expect(again.json().code).toBe('INVALID_TOKEN');
  });
});

describe('guest sessions and the admin guard', () => {
  it('issues unguessable guest session ids', async () => {
    const response = await http.request({ method: 'POST', url: api('/sessions') });
    expect(response.statusCode).toBe(201);
    expect(response.json().sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('keeps /admin for administrators, and admin:create takes the account over with its own password', async () => {
    const customer = (await register('grace@example.com', 'grace password')).json();
    const asCustomer = await http.request({
      method: 'GET',
      url: api('/admin/outbox'),
      headers: { authorization: `Bearer ${customer.accessToken}` },
    });
    expect(asCustomer.statusCode).toBe(403);
    expect(asCustomer.json().code).toBe('FORBIDDEN');
    expect((await http.request({ method: 'GET', url: api('/admin/outbox') })).json().code).toBe(
      'UNAUTHORIZED',
    );

    const promoted = await shop.useCases.createAdmin({
      email: 'grace@example.com',
      password: 'another password',
    });
    expect(promoted.created).toBe(false);
    expect((await login('grace@example.com', 'grace password', '10.1.1.1')).statusCode).toBe(401);
    const admin = (await login('grace@example.com', 'another password', '10.1.1.1')).json();
    expect(admin.user.role).toBe('admin');

    const backlog = await http.request({
      method: 'GET',
      url: api('/admin/outbox'),
      headers: { authorization: `Bearer ${admin.accessToken}` },
    });
    expect(backlog.statusCode).toBe(200);
    expect(backlog.json()).toMatchObject({ pending: expect.any(Number), failed: 0 });
  });
});
