import { randomUUID } from 'node:crypto';
import type PgBoss from 'pg-boss';
import type { CacheInvalidation } from '../../ports/cache.js';
import type { OutboxAddOptions, OutboxTopic, OutboxTopics, OutboxWriter } from '../../ports/outbox.js';
import type { OutboxRegistry } from './outbox-topics.js';

/**
 * Writes outbox messages as pg-boss jobs through the caller's transaction (`db`): a message exists if and only
 * if the transaction commits. Remembers what it wrote, for the unit of work's after-commit work.
 */
export class PgBossOutboxWriter implements OutboxWriter {
  /** Payloads written, by topic. */
  readonly written = new Map<OutboxTopic, unknown[]>();

  constructor(
    private readonly boss: PgBoss,
    private readonly registry: OutboxRegistry,
    private readonly db: PgBoss.Db,
  ) {}

  async add<T extends OutboxTopic>(
    topic: T,
    payload: OutboxTopics[T],
    options: OutboxAddOptions = {},
  ): Promise<void> {
    const { queue, delivery } = this.registry[topic];
    const id = await this.boss.send(queue, payload as object, {
      db: this.db,
      ...(options.notBefore ? { startAfter: options.notBefore } : {}),
      retryLimit: delivery.retryLimit,
      retryDelay: delivery.retryDelaySeconds,
      retryBackoff: delivery.retryBackoff,
      expireInSeconds: delivery.expireInSeconds,
    });
    // pg-boss 10 answers null, inserting nothing, when the queue does not exist.
    if (id === null) throw new Error(`outbox queue ${queue} does not exist`);
    const payloads = this.written.get(topic) ?? [];
    payloads.push(payload);
    this.written.set(topic, payloads);
  }

  async addAll<T extends OutboxTopic>(topic: T, payloads: OutboxTopics[T][]): Promise<void> {
    if (payloads.length === 0) return;
    const { queue, delivery } = this.registry[topic];
    // pg-boss's batch insert answers nothing; its queue exists (created at start, like every outbox queue).
    await this.boss.insert(
      payloads.map((payload) => ({
        id: randomUUID(),
        name: queue,
        data: payload as object,
        retryLimit: delivery.retryLimit,
        retryDelay: delivery.retryDelaySeconds,
        retryBackoff: delivery.retryBackoff,
        expireInSeconds: delivery.expireInSeconds,
      })),
      { db: this.db },
    );
    this.written.set(topic, [...(this.written.get(topic) ?? []), ...payloads]);
  }

  invalidate(target: CacheInvalidation): Promise<void> {
    return this.add('cache.invalidate', target);
  }
}
