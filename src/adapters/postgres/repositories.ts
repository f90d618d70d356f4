import type { Kysely, Transaction } from 'kysely';
import type { TransactionScope } from '../../ports/unit-of-work.js';
import { KyselyCartReader, KyselyCartRepository } from './kysely-cart-repository.js';
import { KyselyCatalogReader } from './kysely-catalog-reader.js';
import { KyselyCatalogRepository } from './kysely-catalog-repository.js';
import { KyselyFulfilmentReader, KyselyFulfilmentRepository } from './kysely-fulfilment-repository.js';
import { KyselyIdempotencyRepository } from './kysely-idempotency-repository.js';
import { KyselyOrderReader, KyselyOrderRepository } from './kysely-order-repository.js';
import { KyselySyncRunReader, KyselySyncRunRepository } from './kysely-sync-run-repository.js';
import {
  KyselyEmailVerificationRepository,
  KyselyGuestSessionRepository,
  KyselyRefreshTokenRepository,
} from './kysely-token-repositories.js';
import { KyselyUserReader, KyselyUserRepository } from './kysely-user-repository.js';
import { KyselyLedgerReader, KyselyWalletRepository } from './kysely-wallet-repository.js';
import { KyselyWishlistReader, KyselyWishlistRepository } from './kysely-wishlist-repository.js';
import type { Database } from './schema.js';

export type TransactionRepositories = Omit<TransactionScope, 'outbox' | 'jobs'>;

/** The repositories of one transaction: the only ones that can lock. */
export function transactionRepositories(tx: Transaction<Database>): TransactionRepositories {
  const fulfilment = new KyselyFulfilmentRepository(tx);
  return {
    users: new KyselyUserRepository(tx),
    refreshTokens: new KyselyRefreshTokenRepository(tx),
    emailVerifications: new KyselyEmailVerificationRepository(tx),
    guestSessions: new KyselyGuestSessionRepository(tx),
    carts: new KyselyCartRepository(tx),
    wishlists: new KyselyWishlistRepository(tx),
    catalog: new KyselyCatalogRepository(tx),
    syncRuns: new KyselySyncRunRepository(tx),
    orders: new KyselyOrderRepository(tx),
    wallets: new KyselyWalletRepository(tx),
    idempotency: new KyselyIdempotencyRepository(tx),
    fulfilment,
    webhookEvents: fulfilment,
  };
}

/** Reads outside a transaction, on the pool; none of them can lock. */
export function createReaders(db: Kysely<Database>) {
  return {
    users: new KyselyUserReader(db),
    carts: new KyselyCartReader(db),
    wishlists: new KyselyWishlistReader(db),
    catalog: new KyselyCatalogReader(db),
    syncRuns: new KyselySyncRunReader(db),
    guestSessions: new KyselyGuestSessionRepository(db),
    orders: new KyselyOrderReader(db),
    ledger: new KyselyLedgerReader(db),
    fulfilment: new KyselyFulfilmentReader(db),
  };
}

export type Readers = ReturnType<typeof createReaders>;
