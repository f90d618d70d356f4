import { DomainError } from './errors.js';

export const SHOP_CURRENCY = 'EUR';

/** Money in integer minor units (cents) and an ISO currency. */
export interface Money {
  amountCents: number;
  currency: string;
}

/**
 * A EUR amount as G2A sends it (a JSON number such as 25.25) in cents, rounded half up. Works on the decimal
 * text of the number, never on a float product: 1.005 × 100 is 100.49999… in binary floating point.
 */
export function eurosToCents(euros: number): number {
  if (!Number.isFinite(euros) || euros < 0) {
    throw new DomainError('VALIDATION_FAILED', `not a price: ${euros}`);
  }
  const [whole, fraction = ''] = euros.toFixed(6).split('.');
  const digits = fraction.padEnd(3, '0');
  const cents = Number(whole) * 100 + Number(digits.slice(0, 2));
  return Number(digits[2]) >= 5 ? cents + 1 : cents;
}

/** Cents as a EUR number with two decimals, for G2A's `max_price`. */
export function centsToEuros(cents: number): number {
  return Number((cents / 100).toFixed(2));
}

/** A markup such as "2" or "2.5" percent in basis points, exactly. */
export function markupBasisPoints(percent: number): number {
  const basisPoints = Math.round(percent * 100);
  if (!Number.isFinite(percent) || percent < 0 || Math.abs(basisPoints - percent * 100) > 1e-6) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `markup must be a non-negative percentage with at most 2 decimals`,
    );
  }
  return basisPoints;
}

/**
 * Retail price = cost × (1 + markup), rounded half up to the cent, in integers only:
 * cost 1000 → 1020, 999 → 1019, 1 → 1 at 2 %.
 */
export function retailPriceCents(costCents: number, markupPercent: number): number {
  if (!Number.isSafeInteger(costCents) || costCents < 0) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `cost must be a non-negative integer of cents, got ${costCents}`,
    );
  }
  const factor = 10_000 + markupBasisPoints(markupPercent);
  return Math.floor((costCents * factor + 5_000) / 10_000);
}
