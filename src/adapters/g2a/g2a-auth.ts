import { createHash } from 'node:crypto';

/** The G2A "API key": lowercase hex SHA-256 of hash, e-mail and secret concatenated without separators. */
export function g2aApiKey(apiHash: string, email: string, apiSecret: string): string {
  return createHash('sha256')
    .update(apiHash + email + apiSecret)
    .digest('hex');
}

/** The Export API `Authorization` header value: `{hash}, {apiKey}` (comma and one space). */
export function g2aAuthorizationHeader(apiHash: string, email: string, apiSecret: string): string {
  return `${apiHash}, ${g2aApiKey(apiHash, email, apiSecret)}`;
}
