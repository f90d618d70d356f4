import { DomainError } from './errors.js';

export type UserRole = 'customer' | 'admin';

export interface User {
  id: string;
  email: string;
  nickname: string | null;
  firstName: string | null;
  lastName: string | null;
  role: UserRole;
  emailVerified: boolean;
  balanceCents: number;
  createdAt: Date;
}

export const PASSWORD_MIN_BYTES = 8;
/** bcrypt ignores everything past 72 bytes, so a longer password would be silently truncated. */
export const PASSWORD_MAX_BYTES = 72;

const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Characters no address should hold and a reader cannot see: controls (Cc), formatting such as bidi overrides and
 * zero-width joiners (Cf), line and paragraph separators, and private-use code points.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}]/u;

/**
 * An e-mail as the shop compares and stores it: NFC (so `josé` typed either way is one address), trimmed and
 * lower-cased; one holding an invisible or control character (past the whitespace trimmed off its ends) is
 * refused.
 */
export function normalizeEmail(raw: string): string {
  const trimmed = raw.trim();
  if (INVISIBLE.test(trimmed)) {
    throw new DomainError('VALIDATION_FAILED', 'email must not contain control or invisible characters', {
      field: 'email',
    });
  }
  const email = trimmed.normalize('NFC').toLowerCase();
  if (email.length > 254 || !EMAIL_PATTERN.test(email)) {
    throw new DomainError('VALIDATION_FAILED', 'email must be a valid e-mail address', { field: 'email' });
  }
  return email;
}

export function assertAcceptablePassword(password: string): void {
  const bytes = new TextEncoder().encode(password).length;
  if (bytes < PASSWORD_MIN_BYTES || bytes > PASSWORD_MAX_BYTES) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `password must be ${PASSWORD_MIN_BYTES} to ${PASSWORD_MAX_BYTES} bytes long`,
      { field: 'password' },
    );
  }
}
