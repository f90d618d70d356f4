import { acceptG2AWebhook, type G2AWebhookInput } from '../application/accept-g2a-webhook.js';
import { fulfilOrderUnit, type FulfilmentSettings } from '../application/fulfil-order-unit.js';
import { getFulfilmentSummary } from '../application/get-fulfilment-summary.js';
import { reconcileFulfilment } from '../application/reconcile-fulfilment.js';
import { FULFILMENT_OPEN_STATES } from '../domain/fulfilment.js';
import type { Logger } from '../ports/logger.js';
import type { Infrastructure } from './infrastructure.js';

/** Buying the keys of paid orders at G2A, the reconciliation that restarts stuck units, and G2A's webhook. */
export function fulfilmentFeature(infra: Infrastructure) {
  const { uow, clock, config, readers, metrics } = infra;
  const settings: FulfilmentSettings = {
    leaseMs: config.fulfilment.leaseMs,
    orderReservationMs: config.fulfilment.orderReservationMs,
    keyWaitMs: config.fulfilment.keyWaitMs,
  };
  const summary = () => getFulfilmentSummary({ fulfilment: readers.fulfilment, clock });
  metrics.watchUnits(
    async () => (await summary()).byState,
    async () =>
      (await summary()).flagged.filter((unit) => FULFILMENT_OPEN_STATES.includes(unit.state)).length,
  );
  return {
    /** Drives one unit on; only in processes that connect to G2A. */
    fulfilOrderUnit: (unitId: string) => {
      if (!infra.g2a) throw new Error('this process does not fulfil orders');
      return fulfilOrderUnit(
        {
          uow,
          g2a: infra.g2a,
          vault: infra.vault,
          clock,
          logger: infra.logger,
          settings,
          publicUrl: config.publicUrl,
          onStep: (step, outcome) => metrics.fulfilmentSteps.inc({ step, outcome }),
        },
        unitId,
      );
    },
    reconcileFulfilment: () => reconcileFulfilment({ uow, clock, logger: infra.logger }),
    useCases: {
      getFulfilmentSummary: summary,
      acceptG2AWebhook: (input: G2AWebhookInput, log: Logger = infra.logger) =>
        acceptG2AWebhook({ uow, clock, logger: log, secret: config.g2a.webhookSecret }, input),
    },
  };
}
