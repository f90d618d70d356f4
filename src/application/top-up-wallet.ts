import { DomainError } from '../domain/errors.js';
import { assertTopUpAmount } from '../domain/ledger.js';
import type { Logger } from '../ports/logger.js';
import type { UnitOfWork } from '../ports/unit-of-work.js';
import { toLedgerEntryView, type LedgerEntryView } from './order-views.js';

export interface TopUpWalletInput {
  userId: string;
  amountCents: number;
  /** The payment's reference, unique across users: the top-up's idempotency key. */
  reference: string;
  /** Who credited it (an administrator), for the log. */
  actorId?: string;
}

export interface TopUpWalletOutput {
  entry: LedgerEntryView & { userId: string };
  /** True when the reference had credited the wallet already: nothing changed, the first entry answers. */
  replayed: boolean;
}

export const MAX_REFERENCE_LENGTH = 100;

/**
 * Credits a wallet with a `top_up` ledger entry. The reference makes it idempotent: the same reference, user
 * and amount answer the first entry without a second credit; the same reference with another amount or for
 * another user is IDEMPOTENCY_KEY_REUSED. An unknown user is USER_NOT_FOUND.
 */
export async function topUpWallet(
  deps: { uow: UnitOfWork; logger: Logger },
  given: TopUpWalletInput,
): Promise<TopUpWalletOutput> {
  // An id in capitals is the same account (and the same cache keys).
  const input = { ...given, userId: given.userId.toLowerCase() };
  assertTopUpAmount(input.amountCents);
  const reference = input.reference.trim();
  if (reference.length === 0 || reference.length > MAX_REFERENCE_LENGTH) {
    throw new DomainError('VALIDATION_FAILED', `reference must be 1 to ${MAX_REFERENCE_LENGTH} characters`, {
      field: 'reference',
    });
  }
  const result = await deps.uow.run(async (scope) => {
    await scope.wallets.lockTopUpReference(reference);
    const balance = await scope.wallets.lockWallet(input.userId);
    if (balance === null) throw new DomainError('USER_NOT_FOUND', 'no such user');
    const earlier = await scope.wallets.findTopUp(reference);
    if (earlier) {
      if (earlier.userId !== input.userId || earlier.amountCents !== input.amountCents) {
        throw new DomainError(
          'IDEMPOTENCY_KEY_REUSED',
          'this reference already credited another amount or another user',
          { field: 'reference' },
        );
      }
      return { entry: earlier, replayed: true };
    }
    const [entry] = await scope.wallets.record(input.userId, [
      { type: 'top_up', amountCents: input.amountCents, reference },
    ]);
    return { entry: entry!, replayed: false };
  });
  deps.logger.info(
    {
      operation: 'wallet.top_up',
      outcome: result.replayed ? 'replayed' : 'credited',
      userId: input.userId,
      actorId: input.actorId,
      amountCents: input.amountCents,
      balanceAfterCents: result.entry.balanceAfterCents,
    },
    result.replayed ? 'top-up replayed' : 'wallet topped up',
  );
  return {
    entry: { ...toLedgerEntryView(result.entry), userId: result.entry.userId },
    replayed: result.replayed,
  };
}
