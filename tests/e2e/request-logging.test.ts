import pino from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestShop, type TestShop } from '../support/test-shop.js';

const lines: Record<string, unknown>[] = [];
let shop: TestShop;

beforeAll(async () => {
  const capture = { write: (line: string) => void lines.push(JSON.parse(line)) };
  shop = await startTestShop({ logger: pino({ level: 'info' }, capture) });
});
afterAll(() => shop?.dispose());

it('stamps the request id on every line a request writes, and never writes its secrets', async () => {
  const password = 'a very secret password';
  const response = await shop.app!.inject({
    method: 'POST',
    url: '/api/v1/auth/register',
    headers: { 'x-request-id': 'trace-abc-123' },
    payload: { email: 'logged@example.com', password },
  });
  expect(response.statusCode).toBe(201);
  const { refreshToken, accessToken } = response.json();

  const ofRequest = lines.filter((line) => line.reqId === 'trace-abc-123');
  expect(ofRequest.map((line) => line.msg)).toEqual(
    expect.arrayContaining(['user registered', 'request completed']),
  );
  // One line for the request itself, written when it was answered.
  expect(ofRequest.filter((line) => line.msg === 'request completed')).toHaveLength(1);
  const everything = JSON.stringify(lines);
  for (const secret of [password, refreshToken, accessToken]) expect(everything).not.toContain(secret);
});
