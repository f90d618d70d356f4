/** How long a key is remembered: a retry within a day answers the first response. */
export const IDEMPOTENCY_KEY_TTL_HOURS = 24;

/** A client's key: 1 to 255 visible ASCII characters (a UUID, say). */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7E]{1,255}$';

/** A response kept for replay: its status and its body exactly as first sent. */
export interface StoredResponse {
  status: number;
  body: string;
}

/** A key's stored answer and the hash of the request body that produced it. */
export interface StoredKey {
  requestHash: string;
  response: StoredResponse;
}
