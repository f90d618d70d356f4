import type { CacheInvalidation } from '../../ports/cache.js';
import type { OutboxTopic, OutboxTopics, OutboxWriter } from '../../ports/outbox.js';
import type { OutboxMessage, TableAccess } from './memory-tables.js';

/**
 * Appends outbox rows to the transaction's tables, so they exist only if it commits. Like the Kysely writer, it
 * remembers its cache invalidations for the unit of work to apply right after commit.
 */
export class InMemoryOutboxWriter implements OutboxWriter {
  readonly invalidations: CacheInvalidation[] = [];
  written = 0;

  constructor(
    private readonly access: TableAccess,
    /** Answers an error to throw instead of writing, once, when a test asked for a failing write. */
    private readonly takeInjectedFailure: () => Error | undefined = () => undefined,
  ) {}

  async add<T extends OutboxTopic>(topic: T, payload: OutboxTopics[T]): Promise<void> {
    const failure = this.takeInjectedFailure();
    if (failure) throw failure;
    // The row holds JSON, as the jsonb column does: what cannot be serialised fails here, not in a worker.
    const stored = JSON.parse(JSON.stringify(payload)) as OutboxTopics[T];
    await this.access.write((tables) => {
      tables.lastOutboxId += 1;
      tables.outbox.push({ id: tables.lastOutboxId, topic, payload: stored } as OutboxMessage);
    });
    this.written += 1;
    if (topic === 'cache.invalidate') this.invalidations.push(stored as CacheInvalidation);
  }

  invalidate(target: CacheInvalidation): Promise<void> {
    return this.add('cache.invalidate', target);
  }
}
