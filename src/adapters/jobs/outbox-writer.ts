import { randomUUID } from 'node:crypto';
import type PgBoss from 'pg-boss';
import type { CacheInvalidation } from '../../ports/cache.js';
import type { OutboxAddOptions, OutboxTopic, OutboxTopics, OutboxWriter } from '../../ports/outbox.js';
import type { OutboxRegistry } from './outbox-topics.js';

/**
 * Writes outbox messages as pg-boss jobs through the caller's transaction (`db`): a message exists if and only
 * if the transaction commits. The messages of a transaction are gathered and written in one statement by
 * `flush`, which the unit of work calls before it commits. Remembers what it wrote, for the after-commit work.
 */
export class PgBossOutboxWriter implements OutboxWriter {
  /** Payloads written, by topic. */
  readonly written = new Map<OutboxTopic, unknown[]>();
  private pending: PgBoss.JobInsert[] = [];

  constructor(
    private readonly boss: PgBoss,
    private readonly registry: OutboxRegistry,
    private readonly db: PgBoss.Db,
    /** Topics with nowhere to go in this shop (`cache.invalidate` without Redis): not written at all. */
    private readonly undeliverable: ReadonlySet<OutboxTopic> = new Set(),
  ) {}

  async add<T extends OutboxTopic>(
    topic: T,
    payload: OutboxTopics[T],
    options: OutboxAddOptions = {},
  ): Promise<void> {
    this.gather(topic, [payload], options);
  }

  async addAll<T extends OutboxTopic>(topic: T, payloads: OutboxTopics[T][]): Promise<void> {
    this.gather(topic, payloads, {});
  }

  invalidate(target: CacheInvalidation): Promise<void> {
    return this.add('cache.invalidate', target);
  }

  /** Writes the gathered messages; their queues exist (created at start, as every outbox queue is). */
  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const jobs = this.pending;
    this.pending = [];
    await this.boss.insert(jobs, { db: this.db });
  }

  private gather<T extends OutboxTopic>(
    topic: T,
    payloads: OutboxTopics[T][],
    options: OutboxAddOptions,
  ): void {
    if (payloads.length === 0 || this.undeliverable.has(topic)) return;
    const { queue, delivery } = this.registry[topic];
    for (const payload of payloads) {
      this.pending.push({
        id: randomUUID(),
        name: queue,
        data: payload as object,
        retryLimit: delivery.retryLimit,
        retryDelay: delivery.retryDelaySeconds,
        retryBackoff: delivery.retryBackoff,
        expireInSeconds: delivery.expireInSeconds,
        ...(options.notBefore ? { startAfter: options.notBefore } : {}),
      });
    }
    this.written.set(topic, [...(this.written.get(topic) ?? []), ...payloads]);
  }
}
