import { describe, expect, it } from 'vitest';
import { g2aErrorFromResponse } from '../../src/adapters/g2a/g2a-error-from-response.js';
import { parseRetryAfterMs } from '../../src/adapters/g2a/retry-after.js';

const error = (status: number, code?: string, message?: string) =>
  g2aErrorFromResponse(status, { status: 'ERROR', code, message }, 'GET /v1/test');

describe('g2aErrorFromResponse', () => {
  it.each([
    [429, 'BR03', 'Too many requests', 'rate_limited'],
    [400, 'BR03', 'Too many requests', 'rate_limited'],
    [500, undefined, undefined, 'unavailable'],
    [503, 'ORD122', 'Bad gateway', 'unavailable'],
    [401, 'AUTH02', 'Authorization failed', 'unauthorized'],
    [403, 'AUTH01', 'No Authorization header', 'unauthorized'],
    [401, undefined, undefined, 'unauthorized'],
    [404, 'ORD02', 'Order not found', 'not_found'],
    [400, 'ORD02', 'Order not found', 'not_found'],
    [404, undefined, undefined, 'not_found'],
    [400, 'ORD03', 'Order is not processed yet', 'not_ready'],
    [403, 'ORD03', 'Payment not ready yet', 'not_ready'],
    [402, 'ORD05', 'Payment required', 'not_ready'],
    [400, 'XYZ', 'Order is NOT PROCESSED yet', 'not_ready'],
    [404, 'XYZ', 'Order is not processed yet', 'not_ready'],
    [400, 'ORD01', 'Product is out of stock', 'rejected'],
    [403, 'ORD112', 'Not enough funds', 'rejected'],
    [403, undefined, undefined, 'rejected'],
  ] as const)('%i %s %s → %s', (status, code, message, kind) => {
    const mapped = error(status, code, message);
    expect(mapped.kind).toBe(kind);
    expect(mapped.httpStatus).toBe(status);
    expect(mapped.g2aCode).toBe(code);
  });

  it('copes with bodies that are not G2A errors', () => {
    expect(g2aErrorFromResponse(502, '<html>', 'GET /v1/x').kind).toBe('unavailable');
    expect(g2aErrorFromResponse(400, undefined, 'GET /v1/x').kind).toBe('rejected');
    expect(g2aErrorFromResponse(400, { code: 7, message: null }, 'GET /v1/x').g2aCode).toBeUndefined();
  });

  it('names the operation, status, code and message', () => {
    expect(error(400, 'ORD01', 'Product is out of stock').message).toBe(
      'GET /v1/test failed: HTTP 400 ORD01 Product is out of stock',
    );
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.UTC(2025, 0, 1, 12, 0, 0);

  it('reads delta-seconds', () => {
    expect(parseRetryAfterMs('3', now)).toBe(3_000);
    expect(parseRetryAfterMs(' 0 ', now)).toBe(0);
    expect(parseRetryAfterMs(['2', '9'], now)).toBe(2_000);
  });

  it('reads an HTTP date, never negative', () => {
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 12:00:05 GMT', now)).toBe(5_000);
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 11:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent and unreadable values', () => {
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
    expect(parseRetryAfterMs('', now)).toBeUndefined();
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs('-5', now)).toBeUndefined();
  });
});
