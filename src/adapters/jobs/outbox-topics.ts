import { mergeInvalidations } from '../../domain/cache-invalidation.js';
import type { Cache } from '../../ports/cache.js';
import type { Logger } from '../../ports/logger.js';
import type { Mailer } from '../../ports/mailer.js';
import type { OutboxTopic, OutboxTopics } from '../../ports/outbox.js';

/** One message of a topic as a worker receives it; `id` is its pg-boss job id, stable across retries. */
export interface OutboxMessage<T extends OutboxTopic = OutboxTopic> {
  id: string;
  payload: OutboxTopics[T];
}

/** The batch a delivery works on. */
export interface OutboxBatch {
  /**
   * When to stop starting work (epoch ms): half the messages' expiry, past which pg-boss gives them to another
   * worker. A message not begun by then is answered as failed, to be delivered again, rather than sent late.
   */
  deadline: number;
}

/** What delivering a topic may use. */
export interface OutboxDeliveryDeps {
  cache: Cache;
  mailer: Mailer;
  logger: Logger;
  /** Drives one unit of an order on at G2A (the use case); resolves whatever the unit's outcome. */
  fulfilOrderUnit: (unitId: string) => Promise<unknown>;
}

/** How a topic's messages are retried; every delivery is at least once, so every handler is idempotent. */
export interface OutboxDelivery {
  /** Attempts after the first; past them a message is dead (`failed`, kept for inspection). */
  retryLimit: number;
  retryDelaySeconds: number;
  retryBackoff: boolean;
  /** A worker that died mid-delivery gives its messages back after this long. */
  expireInSeconds: number;
  /** Messages one worker takes at a time. */
  batchSize: number;
  /** Workers per process (each works its batch); more overlap waits on a remote service. */
  workers?: number;
}

/** Everything about one outbox topic, in one place. */
export interface OutboxTopicEntry<T extends OutboxTopic> {
  queue: string;
  delivery: OutboxDelivery;
  /**
   * Delivers a batch; answers the messages that failed, by id (the others count as delivered). Must be
   * idempotent: a message may come again after a crash or an expiry.
   */
  deliver(
    messages: OutboxMessage<T>[],
    deps: OutboxDeliveryDeps,
    batch: OutboxBatch,
  ): Promise<Map<string, Error>>;
  /**
   * Delivered through Redis: a process whose Redis guard is open stops taking these messages until it closes,
   * so that processes that reach Redis deliver them at once instead of after failed attempts here.
   */
  needsRedis?: boolean;
  /** Payload fields dropped once the message was delivered: they carry secrets nobody needs afterwards. */
  scrubAfterDelivery?: readonly (keyof OutboxTopics[T] & string)[];
  /**
   * Best-effort work right after the writing transaction committed, ahead of the worker (read-your-writes);
   * the worker still delivers the message. Bounded by the unit of work.
   */
  afterCommit?(payloads: OutboxTopics[T][], deps: { cache: Cache }): Promise<void>;
}

export type OutboxRegistry = { [T in OutboxTopic]: OutboxTopicEntry<T> };

export interface OutboxSettings {
  /** Deliveries of an e-mail before it is dead. */
  emailMaxAttempts: number;
  /** Overrides per topic, for tests that want short delays. */
  delivery?: { [T in OutboxTopic]?: Partial<OutboxDelivery> };
}

/** Every outbox topic of the shop: payload (by its port type), queue, retry policy, handler, scrubbing. */
export function outboxRegistry(settings: OutboxSettings): OutboxRegistry {
  const delivery = <T extends OutboxTopic>(topic: T, base: OutboxDelivery): OutboxDelivery => ({
    ...base,
    ...settings.delivery?.[topic],
  });
  return {
    'cache.invalidate': {
      queue: 'outbox-cache',
      needsRedis: true,
      // Never dead: a stale entry must go however long Redis is away. A failed message is due again at once,
      // for whichever process reaches Redis: one that does not has stopped taking these (`needsRedis`).
      delivery: delivery('cache.invalidate', {
        retryLimit: 1_000_000,
        retryDelaySeconds: 0,
        retryBackoff: false,
        expireInSeconds: 60,
        batchSize: 50,
      }),
      // One Redis round trip for the whole batch; invalidation is idempotent, so all-or-nothing is right.
      async deliver(messages, { cache }) {
        const failures = new Map<string, Error>();
        try {
          await cache.invalidate(mergeInvalidations(messages.map((m) => m.payload)));
        } catch (error) {
          for (const m of messages) failures.set(m.id, error as Error);
        }
        return failures;
      },
      afterCommit: (payloads, { cache }) => cache.invalidate(mergeInvalidations(payloads)),
    },
    'email.send': {
      queue: 'outbox-email',
      delivery: delivery('email.send', {
        retryLimit: settings.emailMaxAttempts - 1,
        retryDelaySeconds: 10,
        retryBackoff: true,
        expireInSeconds: 120,
        batchSize: 10,
      }),
      // One after another: a slow mail server must not keep a batch past its expiry, so what is not begun
      // by the batch's deadline waits for the next attempt instead of going out twice.
      async deliver(messages, { mailer }, { deadline }) {
        const failures = new Map<string, Error>();
        for (const m of messages) {
          if (Date.now() >= deadline) {
            failures.set(
              m.id,
              new Error('not sent: the batch ran out of time; it is sent on a later attempt'),
            );
            continue;
          }
          try {
            await mailer.send(m.payload);
          } catch (error) {
            failures.set(m.id, error as Error);
          }
        }
        return failures;
      },
      // A sent e-mail's text carries a live token: the message keeps who and what, not the text.
      scrubAfterDelivery: ['text', 'html', 'secrets'],
    },
    'g2a.fulfil': {
      queue: 'outbox-fulfil',
      // The unit's row is the truth and the reconciliation run restarts any unit whose message is lost, so a
      // message only retries a few times (a database that was away, say).
      delivery: delivery('g2a.fulfil', {
        retryLimit: 10,
        retryDelaySeconds: 5,
        retryBackoff: true,
        expireInSeconds: 900,
        batchSize: 5,
        workers: 4,
      }),
      // Units of a batch are worked side by side: most of the time goes to waiting on G2A (and its rate).
      async deliver(messages, { fulfilOrderUnit }) {
        const failures = new Map<string, Error>();
        await Promise.all(
          messages.map((m) =>
            fulfilOrderUnit(m.payload.unitId).catch((error: unknown) => {
              failures.set(m.id, error instanceof Error ? error : new Error(String(error)));
            }),
          ),
        );
        return failures;
      },
    },
  };
}

export const outboxTopicNames = (registry: OutboxRegistry) => Object.keys(registry) as OutboxTopic[];
