import type { Kysely, Transaction } from 'kysely';
import { describe, expectTypeOf, it } from 'vitest';
import {
  KyselyCartReader,
  KyselyCartRepository,
} from '../../src/adapters/postgres/kysely-cart-repository.js';
import { KyselyCatalogRepository } from '../../src/adapters/postgres/kysely-catalog-repository.js';
import { KyselySyncRunRepository } from '../../src/adapters/postgres/kysely-sync-run-repository.js';
import { KyselyUserRepository } from '../../src/adapters/postgres/kysely-user-repository.js';
import { KyselyWishlistRepository } from '../../src/adapters/postgres/kysely-wishlist-repository.js';
import type { Database } from '../../src/adapters/postgres/schema.js';
import type { Readers } from '../../src/adapters/postgres/repositories.js';
import type { CartReader } from '../../src/ports/carts.js';

// These checks are made by the compiler (`npm run typecheck` covers tests): an `@ts-expect-error` whose line
// compiles fails the build.
describe('locks only inside a transaction', () => {
  it('builds the repositories that lock from a transaction, never from the pool', () => {
    const fromPool = (db: Kysely<Database>) => [
      // @ts-expect-error the pool is not a transaction
      new KyselyCartRepository(db),
      // @ts-expect-error the pool is not a transaction
      new KyselyCatalogRepository(db),
      // @ts-expect-error the pool is not a transaction
      new KyselySyncRunRepository(db),
      // @ts-expect-error the pool is not a transaction
      new KyselyUserRepository(db),
      // @ts-expect-error the pool is not a transaction
      new KyselyWishlistRepository(db),
    ];
    const fromTransaction = (tx: Transaction<Database>) => [
      new KyselyCartRepository(tx),
      new KyselyCartReader(tx),
    ];
    expectTypeOf(fromPool).toBeFunction();
    expectTypeOf(fromTransaction).returns.toBeArray();
  });

  it('gives readers outside a transaction no locking methods', () => {
    expectTypeOf<CartReader>().not.toHaveProperty('lockedLines');
    expectTypeOf<CartReader>().not.toHaveProperty('lockOwner');
    expectTypeOf<Readers['carts']>().not.toHaveProperty('lockedLines');
    expectTypeOf<Readers['carts']>().not.toHaveProperty('findGameAvailability');
    expectTypeOf<Readers['carts']>().not.toHaveProperty('lockOwnersForMerge');
    const lockOnPool = (readers: Readers) =>
      // @ts-expect-error a reader cannot lock
      readers.carts.lockedLines({ kind: 'guest', sessionId: 's' });
    expectTypeOf(lockOnPool).toBeFunction();
  });
});
