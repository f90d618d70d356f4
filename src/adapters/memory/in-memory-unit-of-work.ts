import type { Cache, CacheInvalidation } from '../../ports/cache.js';
import { systemClock, type Clock } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import type { OutboxTopic, OutboxTopics } from '../../ports/outbox.js';
import type { TransactionScope, UnitOfWork } from '../../ports/unit-of-work.js';
import { InMemoryCartRepository } from './in-memory-cart-repository.js';
import { InMemoryCatalogReader } from './in-memory-catalog-reader.js';
import { InMemoryCatalogRepository } from './in-memory-catalog-repository.js';
import { InMemoryEmailVerificationRepository } from './in-memory-email-verification-repository.js';
import { InMemoryGuestSessionRepository } from './in-memory-guest-session-repository.js';
import { InMemoryJobQueue } from './in-memory-job-queue.js';
import { InMemoryOutboxWriter } from './in-memory-outbox-writer.js';
import { InMemoryRefreshTokenRepository } from './in-memory-refresh-token-repository.js';
import { InMemorySyncRunRepository } from './in-memory-sync-run-repository.js';
import { InMemoryUserRepository } from './in-memory-user-repository.js';
import { InMemoryWishlistRepository } from './in-memory-wishlist-repository.js';
import { emptyTables, type MemoryTables, type OutboxMessage, type TableAccess } from './memory-tables.js';

/** Same budget as the Kysely unit of work: a cache that hangs must not hold the caller. */
const IMMEDIATE_INVALIDATION_BUDGET_MS = 50;

export interface InMemoryRepositories {
  users: InMemoryUserRepository;
  refreshTokens: InMemoryRefreshTokenRepository;
  emailVerifications: InMemoryEmailVerificationRepository;
  guestSessions: InMemoryGuestSessionRepository;
  carts: InMemoryCartRepository;
  wishlists: InMemoryWishlistRepository;
  catalog: InMemoryCatalogRepository;
  syncRuns: InMemorySyncRunRepository;
  jobs: InMemoryJobQueue;
}

export interface InMemoryUnitOfWorkOptions {
  /**
   * Stamps what PostgreSQL stamps with `now()`: `createdAt` of new users, games, sync runs, cart lines and
   * wishlist entries, heartbeats.
   */
  clock?: Clock;
  /** Receives the invalidations of each commit, best effort. */
  cache?: Cache;
  logger?: Logger;
  /** Called after a commit that wrote outbox rows, as the real one wakes the workers. */
  nudge?: () => void;
}

/** Runs tasks one after another: a promise chain that keeps going after a task fails. */
class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** The members of `TransactionScope` that belong to other features and have no in-memory adapter here. */
type UnadaptedScope = Omit<TransactionScope, keyof InMemoryRepositories | 'outbox'>;

/** Any call on an unadapted member rejects, naming it, so a test that needs one fails loudly. */
function withUnadaptedMembers<T extends object>(adapted: T): T & UnadaptedScope {
  return new Proxy(adapted, {
    get(target, member, receiver) {
      if (typeof member !== 'string' || member in target || member === 'then')
        return Reflect.get(target, member, receiver);
      return new Proxy(
        {},
        {
          get: (_, method) => () =>
            Promise.reject(new Error(`no in-memory adapter for scope.${member}.${String(method)}`)),
        },
      );
    },
  }) as T & UnadaptedScope;
}

function mergeInvalidations(invalidations: CacheInvalidation[]): CacheInvalidation {
  return {
    keys: [...new Set(invalidations.flatMap((i) => i.keys ?? []))],
    families: [...new Set(invalidations.flatMap((i) => i.families ?? []))],
  };
}

/**
 * The `KyselyUnitOfWork` contract over plain maps, for use-case tests. Transactions run one at a time (as if
 * every transaction were serializable) on a copy of the tables that replaces them on commit and is dropped on
 * rollback. `repositories` are the autocommit repositories outside any transaction: their reads see committed
 * state only and each write is its own transaction, so their writes must not be called from inside `run` (the
 * write would wait for the transaction that waits for it).
 */
export class InMemoryUnitOfWork implements UnitOfWork {
  readonly repositories: InMemoryRepositories;
  /** Reads the committed catalogue, as `KyselyCatalogReader` reads it outside any transaction. */
  readonly catalogReader: InMemoryCatalogReader;
  commits = 0;
  rollbacks = 0;

  private tables: MemoryTables = emptyTables();
  private readonly transactions = new SerialQueue();
  private readonly clock: Clock;
  private injectedOutboxFailure: Error | undefined;

  constructor(private readonly options: InMemoryUnitOfWorkOptions = {}) {
    this.clock = options.clock ?? systemClock;
    const autocommit: TableAccess = {
      read: async (query) => query(this.tables),
      write: (change) => this.transactions.run(async () => change(this.tables)),
    };
    this.repositories = this.createRepositories(autocommit);
    this.catalogReader = new InMemoryCatalogReader(autocommit);
  }

  async run<T>(work: (scope: TransactionScope) => Promise<T>): Promise<T> {
    const { result, outbox } = await this.transactions.run(async () => {
      const draft = structuredClone(this.tables);
      let open = true;
      const use = async <R>(statement: (tables: MemoryTables) => R): Promise<R> => {
        if (!open) throw new Error('this transaction is over; its scope cannot be used any more');
        return statement(draft);
      };
      const access: TableAccess = { read: use, write: use };
      const outbox = new InMemoryOutboxWriter(access, () => this.takeInjectedOutboxFailure());
      try {
        const result = await work(withUnadaptedMembers({ ...this.createRepositories(access), outbox }));
        this.tables = draft;
        this.commits += 1;
        return { result, outbox };
      } catch (error) {
        this.rollbacks += 1;
        throw error;
      } finally {
        open = false;
      }
    });
    if (outbox.written > 0) {
      if (outbox.invalidations.length > 0) await this.invalidateNow(mergeInvalidations(outbox.invalidations));
      this.options.nudge?.();
    }
    return result;
  }

  /** Every committed outbox row, oldest first. */
  get messages(): OutboxMessage[] {
    return structuredClone(this.tables.outbox);
  }

  /** The payloads of the committed outbox rows of one topic, oldest first. */
  payloadsOf<T extends OutboxTopic>(topic: T): OutboxTopics[T][] {
    return this.messages
      .filter((message) => message.topic === topic)
      .map((message) => message.payload as OutboxTopics[T]);
  }

  /** Makes the next outbox `add`, in whichever transaction, throw `error`. */
  failNextOutboxAdd(error: Error = new Error('outbox write failed')): void {
    this.injectedOutboxFailure = error;
  }

  private takeInjectedOutboxFailure(): Error | undefined {
    const failure = this.injectedOutboxFailure;
    this.injectedOutboxFailure = undefined;
    return failure;
  }

  private createRepositories(access: TableAccess): InMemoryRepositories {
    return {
      users: new InMemoryUserRepository(access, this.clock),
      refreshTokens: new InMemoryRefreshTokenRepository(access),
      emailVerifications: new InMemoryEmailVerificationRepository(access),
      guestSessions: new InMemoryGuestSessionRepository(access),
      carts: new InMemoryCartRepository(access, this.clock),
      wishlists: new InMemoryWishlistRepository(access, this.clock),
      catalog: new InMemoryCatalogRepository(access, this.clock),
      syncRuns: new InMemorySyncRunRepository(access, this.clock),
      jobs: new InMemoryJobQueue(access),
    };
  }

  private async invalidateNow(target: CacheInvalidation): Promise<void> {
    if (!this.options.cache) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.options.cache.invalidate(target),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('immediate invalidation timed out')),
            IMMEDIATE_INVALIDATION_BUDGET_MS,
          );
        }),
      ]);
    } catch (error) {
      this.options.logger?.debug(
        { operation: 'cache.invalidate', outcome: 'deferred', err: (error as Error).message },
        'immediate invalidation failed; the outbox will retry',
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
