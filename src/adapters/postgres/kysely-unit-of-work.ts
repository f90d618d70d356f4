import type { Kysely } from 'kysely';
import type PgBoss from 'pg-boss';
import type { Cache } from '../../ports/cache.js';
import type { Logger } from '../../ports/logger.js';
import type { OutboxTopic } from '../../ports/outbox.js';
import type { TransactionScope, UnitOfWork } from '../../ports/unit-of-work.js';
import type { OutboxRegistry, OutboxTopicEntry } from '../jobs/outbox-topics.js';
import { PgBossOutboxWriter } from '../jobs/outbox-writer.js';
import { kyselyExecutor } from './pg-boss-executor.js';
import { PgBossJobQueue } from '../jobs/pg-boss-job-queue.js';
import type { WorkerWakeups } from '../jobs/worker-wakeups.js';
import { transactionRepositories } from './repositories.js';
import type { Database } from './schema.js';

/** PostgreSQL's codes for a transaction it rolled back to resolve a conflict with another. */
const DEADLOCK_DETECTED = '40P01';
const SERIALIZATION_FAILURE = '40001';
const TRANSACTION_ATTEMPTS = 3;
/** A healthy Redis answers in well under a millisecond; a hung one must never hold a response longer. */
const AFTER_COMMIT_BUDGET_MS = 50;

export interface KyselyUnitOfWorkDeps {
  db: Kysely<Database>;
  boss: PgBoss;
  registry: OutboxRegistry;
  cache: Cache;
  wakeups: WorkerWakeups;
  logger: Logger;
  /**
   * Called with a topic's queue when its after-commit step failed here (Redis unreachable from this process):
   * the shop wakes that queue's workers in every process, so one that reaches Redis delivers it at once.
   */
  onDeferred?: (queue: string) => void;
  /** Outbox topics this shop has no destination for (cache invalidations without Redis): never written. */
  undeliverable?: ReadonlySet<OutboxTopic>;
}

export class KyselyUnitOfWork implements UnitOfWork {
  constructor(private readonly deps: KyselyUnitOfWorkDeps) {}

  async run<T>(work: (scope: TransactionScope) => Promise<T>): Promise<T> {
    let outbox: PgBossOutboxWriter | undefined;
    const result = await this.withRetries(() =>
      this.deps.db.transaction().execute(async (tx) => {
        const executor = kyselyExecutor(tx);
        const writer = new PgBossOutboxWriter(
          this.deps.boss,
          this.deps.registry,
          executor,
          this.deps.undeliverable,
        );
        outbox = writer;
        const value = await work({
          ...transactionRepositories(tx),
          outbox: writer,
          jobs: new PgBossJobQueue(this.deps.boss, executor),
        });
        // Every message of the transaction in one statement, before it commits.
        await writer.flush();
        return value;
      }),
    );
    if (outbox && outbox.written.size > 0) {
      await this.afterCommit(outbox.written);
      this.deps.wakeups.wake([...outbox.written.keys()].map((topic) => this.deps.registry[topic].queue));
    }
    return result;
  }

  /**
   * Runs a transaction again when PostgreSQL gave it up to break a deadlock or a serialization conflict: it
   * rolled back whole, and the work inside a transaction touches nothing outside PostgreSQL, so running it
   * again is safe. Writers lock in one order so this stays rare.
   */
  private async withRetries<T>(attempt: () => Promise<T>): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (tries >= TRANSACTION_ATTEMPTS || (code !== DEADLOCK_DETECTED && code !== SERIALIZATION_FAILURE)) {
          throw error;
        }
        this.deps.logger.warn(
          { code, attempt: tries },
          'transaction rolled back by PostgreSQL; running it again',
        );
      }
    }
  }

  /** Each topic's after-commit work, at once and bounded; the outbox message guarantees it if this fails. */
  private async afterCommit(written: Map<OutboxTopic, unknown[]>): Promise<void> {
    await Promise.all(
      [...written].map(async ([topic, payloads]) => {
        const entry = this.deps.registry[topic] as OutboxTopicEntry<OutboxTopic>;
        if (!entry.afterCommit) return;
        const started = performance.now();
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            entry.afterCommit(payloads as never[], { cache: this.deps.cache }),
            new Promise((_, reject) => {
              timer = setTimeout(
                () => reject(new Error('after-commit work timed out')),
                AFTER_COMMIT_BUDGET_MS,
              );
            }),
          ]);
        } catch (error) {
          this.deps.onDeferred?.(entry.queue);
          this.deps.logger.debug(
            {
              operation: topic,
              outcome: 'deferred',
              durationMs: performance.now() - started,
              err: (error as Error).message,
            },
            'after-commit work failed; the outbox worker will do it',
          );
        } finally {
          clearTimeout(timer);
        }
      }),
    );
  }
}
