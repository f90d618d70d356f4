/** How long a key is remembered: a retry within a day answers the first response. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

/** A client's key: 1 to 255 visible ASCII characters (a UUID, say). */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7E]{1,255}$';

/** A response kept for replay: its status and its body exactly as first sent. */
export interface StoredResponse {
  status: number;
  body: string;
}

/**
 * What claiming a key found: the key is this request's now (`claimed`, with the token that proves it), or it
 * answered already (`replay`), or it belongs to another request body (`reused`), or a request with it is still
 * running (`in_use`).
 */
export type IdempotencyClaim =
  | { outcome: 'claimed'; claimId: string }
  | { outcome: 'replay'; response: StoredResponse }
  | { outcome: 'reused' }
  | { outcome: 'in_use' }
  | { outcome: 'unknown_owner' };
