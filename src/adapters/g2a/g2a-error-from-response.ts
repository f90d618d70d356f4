import { G2AError } from '../../ports/g2a.js';

interface G2AErrorBody {
  message?: string;
  code?: string;
}

function readErrorBody(body: unknown): G2AErrorBody {
  if (typeof body !== 'object' || body === null) return {};
  const { message, code } = body as Record<string, unknown>;
  return {
    message: typeof message === 'string' ? message : undefined,
    code: typeof code === 'string' ? code : undefined,
  };
}

const NOT_READY_CODES = new Set(['ORD03', 'ORD05']);

/**
 * Maps a non-2xx G2A answer (`{status: "ERROR", message, code}`) to a typed error.
 * "Not processed yet" is checked before "not found" because mistaking a pending key for a missing order
 * would make the caller give up on (and refund) an order G2A is still going to deliver.
 */
export function g2aErrorFromResponse(httpStatus: number, body: unknown, operation: string): G2AError {
  const { message, code } = readErrorBody(body);
  const description = `${operation} failed: HTTP ${httpStatus}${code ? ` ${code}` : ''}${message ? ` ${message}` : ''}`;
  const error = (kind: G2AError['kind']) => new G2AError(kind, description, httpStatus, code);

  if (httpStatus === 429 || code === 'BR03') return error('rate_limited');
  if (httpStatus >= 500) return error('unavailable');
  if (httpStatus === 401 || code?.startsWith('AUTH')) return error('unauthorized');
  if ((message !== undefined && /not processed/i.test(message)) || (code && NOT_READY_CODES.has(code))) {
    return error('not_ready');
  }
  if (httpStatus === 404 || code === 'ORD02') return error('not_found');
  return error('rejected');
}
