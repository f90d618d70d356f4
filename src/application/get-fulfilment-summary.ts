import type { Clock } from '../ports/clock.js';
import type { FulfilmentReader, FulfilmentSummary } from '../ports/fulfilment.js';

const FLAGGED_SHOWN = 100;

/** Units by state, the oldest unit still on its way, and the units flagged for an operator. */
export function getFulfilmentSummary(deps: {
  fulfilment: FulfilmentReader;
  clock: Clock;
}): Promise<FulfilmentSummary> {
  return deps.fulfilment.summary(deps.clock.now(), FLAGGED_SHOWN);
}
