import type { Kysely } from 'kysely';
import type PgBoss from 'pg-boss';
import type { Cache, CacheInvalidation } from '../../ports/cache.js';
import type { Logger } from '../../ports/logger.js';
import type { TransactionScope, UnitOfWork } from '../../ports/unit-of-work.js';
import type { OutboxQueuePolicies } from '../jobs/outbox-queues.js';
import { PgBossJobQueue } from '../jobs/pg-boss-job-queue.js';
import { KyselyCatalogRepository } from './kysely-catalog-repository.js';
import { KyselySyncRunRepository } from './kysely-sync-run-repository.js';
import { KyselyCartRepository } from './kysely-cart-repository.js';
import { KyselyOutboxWriter } from './kysely-outbox.js';
import { KyselyUserRepository } from './kysely-user-repository.js';
import {
  KyselyEmailVerificationRepository,
  KyselyGuestSessionRepository,
  KyselyRefreshTokenRepository,
} from './kysely-token-repositories.js';
import { KyselyWishlistRepository } from './kysely-wishlist-repository.js';
import type { Database } from './schema.js';

const IMMEDIATE_INVALIDATION_BUDGET_MS = 50;

export type Repositories = Omit<TransactionScope, 'outbox' | 'jobs'>;

/** Repositories over a connection or a transaction: the same classes serve both. */
export function createRepositories(db: Kysely<Database>): Repositories {
  return {
    users: new KyselyUserRepository(db),
    refreshTokens: new KyselyRefreshTokenRepository(db),
    emailVerifications: new KyselyEmailVerificationRepository(db),
    guestSessions: new KyselyGuestSessionRepository(db),
    carts: new KyselyCartRepository(db),
    wishlists: new KyselyWishlistRepository(db),
    catalog: new KyselyCatalogRepository(db),
    syncRuns: new KyselySyncRunRepository(db),
  };
}

export function mergeInvalidations(invalidations: CacheInvalidation[]): CacheInvalidation {
  return {
    keys: [...new Set(invalidations.flatMap((i) => i.keys ?? []))],
    families: [...new Set(invalidations.flatMap((i) => i.families ?? []))],
  };
}

export interface KyselyUnitOfWorkDeps {
  db: Kysely<Database>;
  boss: PgBoss;
  policies: OutboxQueuePolicies;
  cache: Cache;
  logger: Logger;
  /** Wakes local outbox workers after a commit that wrote outbox rows. */
  nudge: () => void;
}

export class KyselyUnitOfWork implements UnitOfWork {
  constructor(private readonly deps: KyselyUnitOfWorkDeps) {}

  async run<T>(work: (scope: TransactionScope) => Promise<T>): Promise<T> {
    let outbox: KyselyOutboxWriter | undefined;
    const result = await this.deps.db.transaction().execute(async (tx) => {
      outbox = new KyselyOutboxWriter(tx, this.deps.boss, this.deps.policies);
      return work({ ...createRepositories(tx), outbox, jobs: new PgBossJobQueue(tx, this.deps.boss) });
    });
    if (outbox && outbox.written > 0) {
      if (outbox.invalidations.length > 0) await this.invalidateNow(mergeInvalidations(outbox.invalidations));
      this.deps.nudge();
    }
    return result;
  }

  /**
   * Read-your-writes: drop the stale entries now; the outbox row guarantees it if this fails. Bounded, so a
   * hung Redis never holds a response: a healthy one answers in well under a millisecond.
   */
  private async invalidateNow(target: CacheInvalidation): Promise<void> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.deps.cache.invalidate(target),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error('immediate invalidation timed out')),
            IMMEDIATE_INVALIDATION_BUDGET_MS,
          );
        }),
      ]);
    } catch (error) {
      this.deps.logger.debug(
        {
          operation: 'cache.invalidate',
          outcome: 'deferred',
          durationMs: performance.now() - started,
          err: (error as Error).message,
        },
        'immediate invalidation failed; the outbox will retry',
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
