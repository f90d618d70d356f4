import type { CacheInvalidation } from './cache.js';
import type { MailMessage } from './mailer.js';

/** Side effects that leave through the outbox, by topic. */
export interface OutboxTopics {
  'cache.invalidate': CacheInvalidation;
  'email.send': MailMessage;
  /** Work on this unit (buy its key at G2A); the unit's own row says how far it got. */
  'g2a.fulfil': { unitId: string };
}

export interface OutboxAddOptions {
  /** Deliver no earlier than this (a retry scheduled for later). */
  notBefore?: Date;
}

export type OutboxTopic = keyof OutboxTopics;

/** Writes side effects in the caller's transaction: they happen if, and only if, it commits. */
export interface OutboxWriter {
  add<T extends OutboxTopic>(topic: T, payload: OutboxTopics[T], options?: OutboxAddOptions): Promise<void>;
  /** Many messages of one topic, in one statement. */
  addAll<T extends OutboxTopic>(topic: T, payloads: OutboxTopics[T][]): Promise<void>;
  /** Shorthand for a `cache.invalidate` row. */
  invalidate(target: CacheInvalidation): Promise<void>;
}

export interface OutboxBacklog {
  pending: number;
  dead: number;
  oldestPendingAgeSeconds: number | null;
  byTopic: { topic: string; pending: number; dead: number; oldestPendingAgeSeconds: number | null }[];
  recentDead: { id: string; topic: string; attempts: number; lastError: string | null; createdAt: Date }[];
}

export interface OutboxMonitor {
  backlog(): Promise<OutboxBacklog>;
}
