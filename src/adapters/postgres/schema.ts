import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

export interface UsersTable {
  id: Generated<string>;
  email: string;
  password_hash: string;
  nickname: string | null;
  first_name: string | null;
  last_name: string | null;
  role: ColumnType<'customer' | 'admin', 'customer' | 'admin' | undefined, 'customer' | 'admin'>;
  email_verified_at: NullableTimestamp;
  balance_cents: ColumnType<number, number | undefined, number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface EmailVerificationTokensTable {
  token_hash: string;
  user_id: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface RefreshTokensTable {
  id: Generated<string>;
  token_hash: string;
  family_id: string;
  user_id: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface GuestSessionsTable {
  id: string;
  created_at: Timestamp;
  expires_at: Timestamp;
}

export interface OutboxTable {
  id: Generated<string>;
  topic: string;
  payload: ColumnType<unknown, string, string>;
  status: ColumnType<'pending' | 'done' | 'dead', 'pending' | undefined, 'pending' | 'done' | 'dead'>;
  attempts: ColumnType<number, number | undefined, number>;
  last_error: string | null;
  job_id: string | null;
  created_at: Timestamp;
  processed_at: NullableTimestamp;
}

export interface RateLimitHitsTable {
  key: string;
  hits: number;
  reset_at: Timestamp;
}

export interface Database {
  users: UsersTable;
  email_verification_tokens: EmailVerificationTokensTable;
  refresh_tokens: RefreshTokensTable;
  guest_sessions: GuestSessionsTable;
  outbox: OutboxTable;
  rate_limit_hits: RateLimitHitsTable;
}
