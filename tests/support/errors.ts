import type { LightMyRequestResponse } from 'fastify';
import { expect } from 'vitest';

/** The response is the shared error body with this status and code. */
export function expectErrorResponse(response: LightMyRequestResponse, status: number, code: string) {
  expect({ status: response.statusCode, body: response.json() }).toMatchObject({
    status,
    body: { statusCode: status, code, error: expect.any(String), message: expect.any(String) },
  });
}

/** The call rejects with a domain error of this code (and these details, when given). */
export async function expectDomainError(call: Promise<unknown>, code: string, details?: object) {
  await expect(call).rejects.toMatchObject({ name: 'DomainError', code, ...(details ? { details } : {}) });
}
