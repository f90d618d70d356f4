import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestShop, type TestShop } from '../support/test-shop.js';

let shop: TestShop;
beforeAll(async () => {
  shop = await startTestShop();
});
afterAll(() => shop?.dispose());

it('answers liveness and readiness', async () => {
  expect((await shop.app!.inject({ method: 'GET', url: '/health' })).json()).toEqual({ status: 'ok' });
  expect((await shop.app!.inject({ method: 'GET', url: '/ready' })).json()).toEqual({
    status: 'ok',
    checks: { postgres: 'ok', redis: 'ok', queue: 'ok' },
  });
});

it('serves Swagger UI and the OpenAPI document', async () => {
  const ui = await shop.app!.inject({ method: 'GET', url: '/docs/' });
  expect(ui.statusCode).toBe(200);
  expect(ui.headers['content-type']).toMatch(/text\/html/);
  const document = (await shop.app!.inject({ method: 'GET', url: '/docs/json' })).json();
  expect(document.openapi).toBe('3.1.0');
  expect(Object.keys(document.paths)).toEqual(
    expect.arrayContaining(['/api/v1/auth/register', '/api/v1/games']),
  );
});

it('exposes Prometheus metrics by route pattern', async () => {
  await shop.app!.inject({ method: 'GET', url: '/health' });
  const metrics = await shop.app!.inject({ method: 'GET', url: '/metrics' });
  expect(metrics.headers['content-type']).toMatch(/text\/plain/);
  expect(metrics.body).toMatch(
    /http_request_duration_seconds_count\{method="GET",route="\/health",status="200"\}/,
  );
});

it('sends security headers and a request id on every answer', async () => {
  const response = await shop.app!.inject({
    method: 'GET',
    url: '/health',
    headers: { 'x-request-id': 'trace-123' },
  });
  expect(response.headers['x-request-id']).toBe('trace-123');
  expect(response.headers['x-content-type-options']).toBe('nosniff');
  expect(response.headers['content-security-policy']).toBeDefined();
});

it('hides the details of server errors and reports PostgreSQL down as not ready', async () => {
  await shop.db.destroy();
  const response = await shop.app!.inject({ method: 'GET', url: '/api/v1/games' });
  expect(response.statusCode).toBe(500);
  expect(response.json()).toEqual({
    statusCode: 500,
    code: 'INTERNAL_ERROR',
    error: 'Internal Server Error',
    message: 'something went wrong; the error was logged',
  });
  const ready = await shop.app!.inject({ method: 'GET', url: '/ready' });
  expect(ready.statusCode).toBe(503);
  expect(ready.json()).toMatchObject({ status: 'down', checks: { postgres: 'down' } });
});
