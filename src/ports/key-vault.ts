/** A game key sealed for storage: never stored, logged or cached in the clear. */
export interface SealedKey {
  ciphertext: Buffer;
  iv: Buffer;
  authTag: Buffer;
  /** Which encryption key sealed it, so keys can be rotated without losing old ones. */
  keyId: string;
}

/** Seals game keys for storage and opens them for their owner. */
export interface KeyVault {
  /** `context` (the unit id) is bound to the ciphertext: a sealed key moved to another unit does not open. */
  seal(plaintext: string, context: string): SealedKey;
  open(sealed: SealedKey, context: string): string;
}
