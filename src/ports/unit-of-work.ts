import type { CartRepository, WishlistRepository } from './carts.js';
import type { CatalogRepository, SyncRunRepository } from './catalog.js';
import type { FulfilmentRepository, WebhookEventRepository } from './fulfilment.js';
import type { JobQueue } from './job-queue.js';
import type { OutboxWriter } from './outbox.js';
import type { IdempotencyRepository, OrderRepository, WalletRepository } from './orders.js';
import type {
  EmailVerificationRepository,
  GuestSessionRepository,
  RefreshTokenRepository,
} from './tokens.js';
import type { UserRepository } from './users.js';

/**
 * Repositories and the outbox writer bound to one transaction. Only these may lock rows: the readers used
 * outside a transaction have no locking methods.
 */
export interface TransactionScope {
  users: UserRepository;
  refreshTokens: RefreshTokenRepository;
  emailVerifications: EmailVerificationRepository;
  guestSessions: GuestSessionRepository;
  carts: CartRepository;
  wishlists: WishlistRepository;
  catalog: CatalogRepository;
  syncRuns: SyncRunRepository;
  orders: OrderRepository;
  wallets: WalletRepository;
  idempotency: IdempotencyRepository;
  fulfilment: FulfilmentRepository;
  webhookEvents: WebhookEventRepository;
  outbox: OutboxWriter;
  jobs: JobQueue;
}

/**
 * Runs `work` in one database transaction. After commit, cache invalidations written to the outbox are also
 * applied at once (best effort) and the outbox workers are woken; after rollback nothing leaves.
 */
export interface UnitOfWork {
  run<T>(work: (scope: TransactionScope) => Promise<T>): Promise<T>;
}
