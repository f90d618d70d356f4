import type { Page } from '../domain/game.js';
import type { LedgerReader } from '../ports/orders.js';
import { toLedgerEntryView, type LedgerEntryView } from './order-views.js';

/** One page of the user's ledger, newest first: every top-up, purchase and refund with the balance after it. */
export async function listTransactions(
  deps: { ledger: LedgerReader },
  input: { userId: string; page: number; pageSize: number },
): Promise<Page<LedgerEntryView>> {
  const page = await deps.ledger.entries(input.userId, input);
  return { ...page, items: page.items.map(toLedgerEntryView) };
}
