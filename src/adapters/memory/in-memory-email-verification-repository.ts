import type { EmailVerificationRepository } from '../../ports/tokens.js';
import { constraintViolation, type TableAccess } from './memory-tables.js';

export class InMemoryEmailVerificationRepository implements EmailVerificationRepository {
  constructor(private readonly access: TableAccess) {}

  insert(token: { tokenHash: string; userId: string; expiresAt: Date }): Promise<void> {
    return this.access.write((tables) => {
      if (tables.emailVerifications.has(token.tokenHash))
        throw constraintViolation('unique', 'email_verification_tokens_pkey');
      if (!tables.users.has(token.userId))
        throw constraintViolation('foreign key', 'email_verification_tokens_user_id_fkey');
      tables.emailVerifications.set(token.tokenHash, {
        tokenHash: token.tokenHash,
        userId: token.userId,
        expiresAt: new Date(token.expiresAt),
        usedAt: null,
      });
    });
  }

  consume(tokenHash: string, at: Date): Promise<{ userId: string } | null> {
    return this.access.write((tables) => {
      const row = tables.emailVerifications.get(tokenHash);
      if (!row || row.usedAt || row.expiresAt <= at) return null;
      row.usedAt = new Date(at);
      return { userId: row.userId };
    });
  }
}
