import type { GuestSessionRepository } from '../../ports/tokens.js';
import { constraintViolation, deleteGuestSessionLines, type TableAccess } from './memory-tables.js';

/** As in PostgreSQL: sliding expiry is written at most once a day per session, not on every request. */
export const TOUCH_GRANULARITY_MS = 24 * 3600 * 1000;

export class InMemoryGuestSessionRepository implements GuestSessionRepository {
  constructor(private readonly access: TableAccess) {}

  insert(session: { id: string; expiresAt: Date }): Promise<void> {
    return this.access.write((tables) => {
      if (tables.guestSessions.has(session.id)) throw constraintViolation('unique', 'guest_sessions_pkey');
      tables.guestSessions.set(session.id, { id: session.id, expiresAt: new Date(session.expiresAt) });
    });
  }

  touch(id: string, now: Date, ttlMs: number): Promise<boolean> {
    return this.access.write((tables) => {
      const row = tables.guestSessions.get(id);
      if (!row || row.expiresAt <= now) return false;
      const renewed = new Date(now.getTime() + ttlMs);
      if (renewed.getTime() - row.expiresAt.getTime() > TOUCH_GRANULARITY_MS) row.expiresAt = renewed;
      return true;
    });
  }

  deleteExpired(now: Date, limit: number): Promise<number> {
    return this.access.write((tables) => {
      const deleted = new Set<string>();
      for (const row of tables.guestSessions.values()) {
        if (deleted.size >= limit) break;
        if (row.expiresAt <= now) {
          tables.guestSessions.delete(row.id);
          deleted.add(row.id);
        }
      }
      deleteGuestSessionLines(tables, deleted);
      return deleted.size;
    });
  }

  /** The stored expiry of a session, for tests of the sliding window; `null` when there is no such row. */
  expiresAt(id: string): Promise<Date | null> {
    return this.access.read((tables) => {
      const row = tables.guestSessions.get(id);
      return row ? new Date(row.expiresAt) : null;
    });
  }
}
