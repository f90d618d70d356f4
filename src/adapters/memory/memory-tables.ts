import type { User } from '../../domain/user.js';
import type { OutboxTopic, OutboxTopics } from '../../ports/outbox.js';
import type { StoredRefreshToken } from '../../ports/tokens.js';

export interface UserRow {
  user: User;
  passwordHash: string;
  emailVerifiedAt: Date | null;
}

export interface RefreshTokenRow extends StoredRefreshToken {
  tokenHash: string;
}

export interface EmailVerificationRow {
  tokenHash: string;
  userId: string;
  expiresAt: Date;
  usedAt: Date | null;
}

export interface GuestSessionRow {
  id: string;
  expiresAt: Date;
}

/** One outbox row as the workers would read it: the payload is a JSON copy of what was written. */
export type OutboxMessage = {
  [T in OutboxTopic]: { id: number; topic: T; payload: OutboxTopics[T] };
}[OutboxTopic];

/** The tables of the Postgres schema that the identity use cases touch, as plain maps keyed like its indexes. */
export interface MemoryTables {
  /** By id. */
  users: Map<string, UserRow>;
  /** By token hash. */
  refreshTokens: Map<string, RefreshTokenRow>;
  /** By token hash. */
  emailVerifications: Map<string, EmailVerificationRow>;
  /** By id. */
  guestSessions: Map<string, GuestSessionRow>;
  outbox: OutboxMessage[];
  lastOutboxId: number;
}

export function emptyTables(): MemoryTables {
  return {
    users: new Map(),
    refreshTokens: new Map(),
    emailVerifications: new Map(),
    guestSessions: new Map(),
    outbox: [],
    lastOutboxId: 0,
  };
}

/** How a repository reaches the tables: inside a transaction, or one autocommitted statement at a time. */
export interface TableAccess {
  read<R>(query: (tables: MemoryTables) => R): Promise<R>;
  /** `change` must check before it mutates: a statement that throws leaves the tables as they were. */
  write<R>(change: (tables: MemoryTables) => R): Promise<R>;
}

/** The errors PostgreSQL raises for the same violations, with the same SQLSTATE codes. */
export function constraintViolation(kind: 'unique' | 'foreign key', constraint: string): Error {
  const error = new Error(`${kind} constraint "${constraint}" violated`);
  return Object.assign(error, { code: kind === 'unique' ? '23505' : '23503', constraint });
}
