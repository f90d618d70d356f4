import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import { FixedClock } from '../../src/adapters/memory/fixed-clock.js';
import { InMemoryLogger } from '../../src/adapters/memory/in-memory-logger.js';
import { openInfrastructure, type Infrastructure } from '../../src/compose/infrastructure.js';
import { loadConfig } from '../../src/config.js';
import type { CartOwner } from '../../src/domain/cart.js';
import type { OutboxTopic, OutboxTopics } from '../../src/ports/outbox.js';
import { clearOutbox, outboxPayloads } from './outbox.js';
import { createTestDatabase, redisUrl, uniqueRedisPrefix } from './services.js';
import { TEST_REDIS_CALL_TIMEOUT_MS } from './redis-call-timeout.js';

/**
 * The ground of use-case tests: the shop's real unit of work, readers and cache on a fresh database cloned
 * from the migrated template (and a Redis key prefix of its own), with no HTTP server and no workers, so that
 * what a use case writes to the outbox stays there to be read back. The clock stands still from the moment the
 * ground starts; the logger records.
 */
export interface Ground extends Pick<
  Infrastructure,
  'db' | 'uow' | 'readers' | 'cache' | 'boss' | 'redis' | 'vault'
> {
  clock: FixedClock;
  logger: InMemoryLogger;
  /** The payloads a topic's messages carry, in the order they were written. */
  outbox<T extends OutboxTopic>(topic: T): Promise<OutboxTopics[T][]>;
  /** Forgets the messages written so far. */
  clearOutbox(): Promise<void>;
  /** A fresh customer account; answers its id. */
  newUser(email?: string): Promise<string>;
  /** A fresh guest session, live for 30 days from the clock. */
  newGuestSession(): Promise<string>;
  /** A user and a guest session, as cart owners. */
  newOwners(): Promise<Record<CartOwner['kind'], CartOwner>>;
  dispose(): Promise<void>;
}

export async function startGround(options: { withoutRedis?: boolean } = {}): Promise<Ground> {
  const database = await createTestDatabase();
  const clock = new FixedClock(new Date());
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: database.url,
    REDIS_URL: options.withoutRedis ? undefined : redisUrl(),
    REDIS_KEY_PREFIX: uniqueRedisPrefix(),
    JWT_SECRET: 'test-secret-test-secret-test-secret-42',
    BCRYPT_COST: '4',
    SYNC_SCHEDULES: 'off',
  });
  const infra = await openInfrastructure(config, {
    role: 'api',
    logger: pino({ level: 'silent' }),
    clock,
    redisCallTimeoutMs: TEST_REDIS_CALL_TIMEOUT_MS,
  });
  const newUser = async (email = `${randomUUID()}@example.com`) => {
    const row = await infra.db
      .insertInto('users')
      .values({ email, password_hash: 'not a hash', nickname: null, first_name: null, last_name: null })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  };
  const newGuestSession = async () => {
    const id = `guest-${randomUUID()}`;
    await infra.db
      .insertInto('guest_sessions')
      .values({ id, expires_at: new Date(clock.now().getTime() + 30 * 24 * 3600 * 1000) })
      .execute();
    return id;
  };
  return {
    db: infra.db,
    uow: infra.uow,
    readers: infra.readers,
    cache: infra.cache,
    boss: infra.boss,
    redis: infra.redis,
    vault: infra.vault,
    clock,
    logger: new InMemoryLogger(),
    outbox: (topic) => outboxPayloads(infra.db, topic),
    clearOutbox: () => clearOutbox(infra.db),
    newUser,
    newGuestSession,
    newOwners: async () => ({
      user: { kind: 'user', userId: await newUser() },
      guest: { kind: 'guest', sessionId: await newGuestSession() },
    }),
    dispose: async () => {
      await infra.shutdown.run();
      await database.drop();
    },
  };
}

/** Rows of a table, for tests that count what a refusal left behind. */
export async function countRows(ground: Pick<Ground, 'db'>, table: string): Promise<number> {
  const row = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(ground.db);
  return row.rows[0]!.n;
}
