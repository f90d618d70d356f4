import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adminToken, g2aEnv, startSimulator, syncAndWait, type RunningSimulator } from '../support/g2a.js';
import { ApiClient } from '../support/http.js';
import { startTestShop, type TestShop } from '../support/test-shop.js';

const TOKEN = 'metrics-token-for-the-operators';
let simulator: RunningSimulator;
let shop: TestShop;
let http: ApiClient;

beforeAll(async () => {
  simulator = await startSimulator({ products: 30 });
  shop = await startTestShop({ env: { ...g2aEnv(simulator.url), METRICS_TOKEN: TOKEN } });
  http = new ApiClient(shop);
});
afterAll(async () => {
  await shop?.dispose();
  await simulator?.close();
});

async function scrape(): Promise<string> {
  const response = await shop.app!.inject({
    method: 'GET',
    url: '/metrics',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(response.statusCode).toBe(200);
  return response.body;
}

/** The value of one sample, `name{labels} value`, labels in any order. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

it('answers /metrics only with the metrics token', async () => {
  for (const authorization of [undefined, 'Bearer wrong-token-wrong-token', TOKEN, `Bearer ${TOKEN}x`]) {
    const response = await shop.app!.inject({
      method: 'GET',
      url: '/metrics',
      headers: authorization ? { authorization } : {},
    });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'UNAUTHORIZED' });
  }
  expect(await scrape()).toContain('keyshop_outbox_pending');
});

it('counts sign-ups and sign-ins by outcome', async () => {
  const email = `metrics-${Date.now()}@example.com`;
  const password = 'a long enough password';
  expect((await http.post('/auth/register', { email, password })).statusCode).toBe(201);
  expect((await http.post('/auth/register', { email, password })).statusCode).toBe(409);
  expect((await http.post('/auth/login', { email, password: 'not the password!' })).statusCode).toBe(401);
  expect((await http.post('/auth/login', { email, password })).statusCode).toBe(200);
  expect((await http.post('/auth/login', { email })).statusCode).toBe(400);

  const text = await scrape();
  expect(sample(text, 'keyshop_auth_attempts_total', { action: 'signup', outcome: 'ok' })).toBe(1);
  expect(sample(text, 'keyshop_auth_attempts_total', { action: 'signup', outcome: 'conflict' })).toBe(1);
  expect(sample(text, 'keyshop_auth_attempts_total', { action: 'login', outcome: 'rejected' })).toBe(1);
  expect(sample(text, 'keyshop_auth_attempts_total', { action: 'login', outcome: 'ok' })).toBe(1);
  expect(sample(text, 'keyshop_auth_attempts_total', { action: 'login', outcome: 'invalid' })).toBe(1);
});

it('reports sync runs, the outbox backlog by topic and cache reads by layer', async () => {
  const admin = await adminToken(shop);
  const run = await syncAndWait(shop, 'catalog', admin);
  expect(run.status).toBe('finished');
  const [game] = (await http.get('/games?pageSize=1')).json().items as { id: string }[];
  for (let n = 0; n < 3; n += 1) expect((await http.get(`/games/${game!.id}`)).statusCode).toBe(200);

  const text = await scrape();
  expect(sample(text, 'keyshop_sync_runs', { kind: 'catalog', status: 'finished' })).toBe(1);
  expect(
    sample(text, 'keyshop_sync_last_run_duration_seconds', { kind: 'catalog', status: 'finished' }),
  ).toBeGreaterThan(0);
  expect(
    sample(text, 'keyshop_sync_run_duration_seconds_count', { kind: 'catalog', outcome: 'finished' }),
  ).toBe(1);
  for (const topic of ['cache.invalidate', 'email.send']) {
    expect(sample(text, 'keyshop_outbox_pending', { topic })).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'keyshop_outbox_oldest_pending_seconds', { topic })).toBeGreaterThanOrEqual(0);
  }
  expect(sample(text, 'keyshop_cache_reads_total', { layer: 'near', outcome: 'hit' })).toBeGreaterThanOrEqual(
    2,
  );
  expect(
    sample(text, 'keyshop_cache_reads_total', { layer: 'redis', outcome: 'miss' }),
  ).toBeGreaterThanOrEqual(1);
  expect(sample(text, 'keyshop_redis_guard_open')).toBe(0);
  expect(
    sample(text, 'keyshop_g2a_calls_total', { endpoint: 'GET /v1/products', outcome: 'ok' }),
  ).toBeGreaterThan(0);
});

it('charts in the shipped Grafana dashboard only metrics the shop exports', async () => {
  const dashboard = JSON.parse(
    await readFile(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8'),
  ) as { panels: { title: string; targets: { expr: string }[] }[] };
  const exported = new Set([...(await scrape()).matchAll(/^# HELP (\w+)/gm)].map((m) => m[1]));
  const charted = dashboard.panels.flatMap((panel) =>
    panel.targets.flatMap((target) =>
      [...target.expr.matchAll(/\b(keyshop_\w+|http_request_\w+)/g)].map((m) => m[1]!),
    ),
  );
  expect(charted.length).toBeGreaterThan(15);
  const missing = charted.filter((name) => !exported.has(name.replace(/_(bucket|count|sum)$/, '')));
  expect(missing).toEqual([]);
});
