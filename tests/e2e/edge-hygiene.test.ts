import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogMailer } from '../../src/adapters/mailer/log-mailer.js';
import { confirmationEmail } from '../../src/application/emails.js';
import { api } from '../support/http.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

// The edge as a hostile or careless client meets it: request ids, what request logs and the development mailer
// write, CORS preflights, the security headers of the API and of /docs, and the codes of client errors that
// are not a wrong field.

const lines: Record<string, unknown>[] = [];
let shop: TestShop;
let port: number;

beforeAll(async () => {
  const capture = { write: (line: string) => void lines.push(JSON.parse(line)) };
  shop = await startTestShop({ role: 'api', logger: pino({ level: 'info' }, capture) });
  await shop.app!.listen({ port: 0, host: '127.0.0.1' });
  port = (shop.app!.server.address() as AddressInfo).port;
});
afterAll(() => shop?.dispose());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('X-Request-Id', () => {
  it('is kept when it matches the documented pattern', async () => {
    const response = await shop.app!.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': 'trace-abc:123' },
    });
    expect(response.headers['x-request-id']).toBe('trace-abc:123');
  });

  it.each([
    ['8,000 characters', 'a'.repeat(8000)],
    ['quotes and spaces', `abc" injected="1`],
    ['a newline escape', 'abc\\nlevel=50'],
  ])('with %s is replaced by a fresh id, never echoed or logged', async (_name, id) => {
    const response = await shop.app!.inject({
      method: 'GET',
      url: '/health',
      headers: { 'x-request-id': id },
    });
    expect(response.headers['x-request-id']).toMatch(UUID);
    expect(JSON.stringify(lines)).not.toContain(id);
  });
});

describe('request logs', () => {
  it('write one line per request, with secret query values redacted', async () => {
    const token = 'tok-very-secret-0123456789';
    const response = await shop.app!.inject({
      method: 'GET',
      url: api(`/auth/verify-email?token=${token}`),
      headers: { 'x-request-id': 'verify-log-1' },
    });
    expect(response.statusCode).toBe(400);
    const ofRequest = lines.filter(
      (line) => line.reqId === 'verify-log-1' && line.msg === 'request completed',
    );
    expect(ofRequest).toHaveLength(1);
    expect(ofRequest[0]).toMatchObject({
      method: 'GET',
      url: '/api/v1/auth/verify-email?token=[redacted]',
      statusCode: 400,
      responseTimeMs: expect.any(Number),
    });
    expect(JSON.stringify(lines)).not.toContain(token);
  });

  it.each([
    ['a percent-encoded name', '%74oken'],
    ['another spelling of one', 'tok%65n'],
    ['a refresh token', 'refresh_token'],
  ])('redact a secret query value behind %s', async (_name, parameter) => {
    const secret = `secret-${parameter.length}-${Date.now()}`;
    await shop.app!.inject({ method: 'GET', url: api(`/auth/verify-email?${parameter}=${secret}&page=2`) });
    const text = JSON.stringify(lines);
    expect(text).not.toContain(secret);
    expect(text).toContain(`${parameter}=[redacted]&page=2`);
  });

  it('the development mailer logs the link without its token', async () => {
    const written: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void written.push(JSON.parse(line)) });
    const token = 'confirmation-token-abc/def+ghi=';
    await new LogMailer(logger).send(
      confirmationEmail({ to: 'a@example.com', token, publicUrl: 'https://shop.example' }),
    );
    const text = JSON.stringify(written);
    expect(text).not.toContain(token);
    expect(text).not.toContain(encodeURIComponent(token));
    expect(text).toContain('https://shop.example/api/v1/auth/verify-email?token=[redacted]');
  });
});

describe('CORS', () => {
  it('a preflight allows the methods the API uses and the headers it reads', async () => {
    const response = await shop.app!.inject({
      method: 'OPTIONS',
      url: api('/cart/items/00000000-0000-4000-8000-000000000000'),
      headers: {
        origin: 'https://app.example',
        'access-control-request-method': 'PATCH',
        'access-control-request-headers':
          'authorization, content-type, x-session-id, idempotency-key, x-request-id',
      },
    });
    expect(response.statusCode).toBe(204);
    const methods = String(response.headers['access-control-allow-methods']).split(/,\s*/);
    expect(methods).toEqual(expect.arrayContaining(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']));
    const allowed = String(response.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(
      expect.arrayContaining([
        'authorization',
        'content-type',
        'x-session-id',
        'idempotency-key',
        'x-request-id',
      ]),
    );
  });

  it('an answer exposes X-Request-Id and Retry-After to the page', async () => {
    const response = await shop.app!.inject({
      method: 'GET',
      url: '/health',
      headers: { origin: 'https://app.example' },
    });
    const exposed = String(response.headers['access-control-expose-headers']).toLowerCase().split(/,\s*/);
    expect(exposed).toEqual(expect.arrayContaining(['x-request-id', 'retry-after']));
  });
});

describe('Content-Security-Policy', () => {
  it('is strict on the API and relaxed for Swagger UI under /docs only', async () => {
    const apiCsp = String(
      (await shop.app!.inject({ method: 'GET', url: api('/games') })).headers['content-security-policy'],
    );
    expect(apiCsp).toContain("default-src 'none'");
    expect(apiCsp).not.toContain('unsafe-inline');
    const docs = await shop.app!.inject({ method: 'GET', url: '/docs/' });
    expect(String(docs.headers['content-security-policy'])).toContain("'unsafe-inline'");
    const notDocs = await shop.app!.inject({ method: 'GET', url: '/docsx' });
    expect(String(notDocs.headers['content-security-policy'])).not.toContain('unsafe-inline');
  });
});

/** Sends raw bytes to the listening server and answers the status line and the JSON body. */
function raw(request: string): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const [head, ...rest] = answer.split('\r\n\r\n');
      const status = Number(head?.split(' ')[1]);
      try {
        resolve({ status, body: JSON.parse(rest.join('\r\n\r\n')) });
      } catch (error) {
        reject(new Error(`not JSON: ${answer.slice(0, 300)} (${String(error)})`));
      }
    });
    socket.write(request);
  });
}

describe('client errors that are not a wrong field', () => {
  it('a path parameter past the router limit is 414 URI_TOO_LONG', async () => {
    const response = await shop.app!.inject({ method: 'GET', url: api(`/games/${'a'.repeat(600)}`) });
    expect(response.statusCode).toBe(414);
    expect(response.json()).toMatchObject({ code: 'URI_TOO_LONG' });
  });

  it('a path parameter as long as its schema allows reaches the route', async () => {
    const response = await shop.app!.inject({ method: 'GET', url: api(`/games/${'a'.repeat(200)}`) });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'GAME_NOT_FOUND' });
  });

  it('a URL that does not decode is 400 BAD_REQUEST', async () => {
    for (const url of ['/api/v1/%ED%A0%80', '/api/v1/games/%C0%AF', '/api/v1/games/%']) {
      const response = await shop.app!.inject({ method: 'GET', url });
      expect(response.statusCode, url).toBe(400);
      expect(response.json().code, url).toBe('BAD_REQUEST');
    }
  });

  it('an OPTIONS that is not a preflight is no error without a code', async () => {
    const response = await shop.app!.inject({ method: 'OPTIONS', url: api('/orders') });
    if (response.statusCode >= 400) expect(response.json().code).toEqual(expect.any(String));
    else expect(response.statusCode).toBe(204);
  });

  it('an HTTP/1.1 request without Host is 400 BAD_REQUEST with the shared body', async () => {
    const { status, body } = await raw('GET /health HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(status).toBe(400);
    expect(body).toMatchObject({ statusCode: 400, code: 'BAD_REQUEST' });
  });

  it('a path outside the static folder of /docs is refused with a code', async () => {
    const response = await shop.app!.inject({
      method: 'GET',
      url: '/docs/static/..%2f..%2f..%2fpackage.json',
    });
    expect(response.statusCode).toBeGreaterThanOrEqual(400);
    expect(response.statusCode).toBeLessThan(500);
    expect(response.json().code).toEqual(expect.any(String));
    expect(response.json().code).not.toBe('VALIDATION_FAILED');
  });

  it('a Content-Length that is not a number is 400 BAD_REQUEST from the HTTP parser', async () => {
    const { status, body } = await raw(
      'POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: abc\r\n\r\n{}',
    );
    expect(status).toBe(400);
    expect(body).toMatchObject({ statusCode: 400, code: 'BAD_REQUEST' });
  });

  it('headers past the size limit are 431 HEADERS_TOO_LARGE', async () => {
    const { status, body } = await raw(
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(status).toBe(431);
    expect(body).toMatchObject({ statusCode: 431, code: 'HEADERS_TOO_LARGE' });
  });
});
