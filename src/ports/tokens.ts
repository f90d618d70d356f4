export interface StoredRefreshToken {
  id: string;
  userId: string;
  familyId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

export interface RefreshTokenRepository {
  insert(token: { tokenHash: string; userId: string; familyId: string; expiresAt: Date }): Promise<void>;
  /** Marks a live token used, atomically: of two concurrent calls with one token, one gets it. */
  consume(tokenHash: string, at: Date): Promise<StoredRefreshToken | null>;
  findByHash(tokenHash: string): Promise<StoredRefreshToken | null>;
  revokeFamily(familyId: string, at: Date): Promise<void>;
  /** Revokes every live refresh token of the user (all families). */
  revokeAllOfUser(userId: string, at: Date): Promise<void>;
}

export interface EmailVerificationRepository {
  insert(token: { tokenHash: string; userId: string; expiresAt: Date }): Promise<void>;
  /** Marks a live token used and answers its user, or `null` when unknown, used or expired. */
  consume(tokenHash: string, at: Date): Promise<{ userId: string } | null>;
}

export interface GuestSessionRepository {
  insert(session: { id: string; expiresAt: Date }): Promise<void>;
  /** Answers whether the session is live; extends its expiry (sliding) when it has aged. */
  touch(id: string, now: Date, ttlMs: number): Promise<boolean>;
  /** Removes sessions that expired before `now`, at most `limit` of them; answers how many. */
  deleteExpired(now: Date, limit: number): Promise<number>;
}
