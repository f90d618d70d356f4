import { DomainError } from './errors.js';

export type LedgerEntryType = 'top_up' | 'purchase' | 'refund';

/** One change of a wallet: a signed amount and the balance right after it. */
export interface LedgerEntry {
  id: string;
  userId: string;
  type: LedgerEntryType;
  amountCents: number;
  balanceAfterCents: number;
  orderId: string | null;
  orderUnitId: string | null;
  reference: string | null;
  createdAt: Date;
}

/** The largest single top-up: 10,000 EUR. A larger credit is a typo more often than a wish. */
export const MAX_TOP_UP_CENTS = 1_000_000;

export function assertTopUpAmount(amountCents: number): void {
  if (!Number.isSafeInteger(amountCents) || amountCents < 1 || amountCents > MAX_TOP_UP_CENTS) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `amountCents must be a whole number of cents from 1 to ${MAX_TOP_UP_CENTS}`,
      { field: 'amountCents' },
    );
  }
}
