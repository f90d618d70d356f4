import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { KeyVault, SealedKey } from '../../ports/key-vault.js';

const ALGORITHM = 'aes-256-gcm';
/** GCM's recommended nonce length; a fresh random one per key. */
const IV_BYTES = 12;

/** A short fingerprint of an encryption key: stored beside each sealed key, never the key itself. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * AES-256-GCM with `KEYS_ENCRYPTION_KEY`: a unique IV per key, the unit id as associated data. Keys sealed
 * with an earlier encryption key open while that key is among `previousKeys`.
 */
export class AesGcmKeyVault implements KeyVault {
  private readonly current: { id: string; key: Buffer };
  private readonly byId: Map<string, Buffer>;

  constructor(key: Buffer, previousKeys: Buffer[] = []) {
    for (const candidate of [key, ...previousKeys]) {
      if (candidate.length !== 32) throw new RangeError('an AES-256 key is 32 bytes');
    }
    this.current = { id: keyIdOf(key), key };
    this.byId = new Map([...previousKeys, key].map((candidate) => [keyIdOf(candidate), candidate]));
  }

  seal(plaintext: string, context: string): SealedKey {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.current.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { ciphertext, iv, authTag: cipher.getAuthTag(), keyId: this.current.id };
  }

  open(sealed: SealedKey, context: string): string {
    const key = this.byId.get(sealed.keyId);
    if (!key) throw new Error(`no encryption key ${sealed.keyId} to open this game key`);
    const decipher = createDecipheriv(ALGORITHM, key, sealed.iv);
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(sealed.authTag);
    return Buffer.concat([decipher.update(sealed.ciphertext), decipher.final()]).toString('utf8');
  }
}
