import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OrderUnitState } from '../../domain/order.js';

/** The shop's Prometheus metrics, in one registry that `/metrics` serves. */
export interface ShopMetrics {
  registry: Registry;
  g2aCalls: Counter<'endpoint' | 'outcome'>;
  g2aLimiterWait: Histogram<'priority'>;
  fulfilmentSteps: Counter<'step' | 'outcome'>;
  /** Units by state, read from the database when scraped. */
  watchUnits(count: () => Promise<Record<OrderUnitState, number>>, flagged: () => Promise<number>): void;
}

export function createShopMetrics(): ShopMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const g2aCalls = new Counter({
    name: 'keyshop_g2a_calls_total',
    help: 'G2A calls by endpoint and outcome (ok, or the kind of failure), retries included',
    labelNames: ['endpoint', 'outcome'],
    registers: [registry],
  });
  const g2aLimiterWait = new Histogram({
    name: 'keyshop_g2a_limiter_wait_seconds',
    help: 'Time a G2A request waited for the shared rate limit, by priority',
    labelNames: ['priority'],
    buckets: [0, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  const fulfilmentSteps = new Counter({
    name: 'keyshop_fulfilment_steps_total',
    help: 'Fulfilment steps (create, pay, fetch_key, await_lapse) by outcome',
    labelNames: ['step', 'outcome'],
    registers: [registry],
  });
  return {
    registry,
    g2aCalls,
    g2aLimiterWait,
    fulfilmentSteps,
    watchUnits(count, flagged) {
      new Gauge({
        name: 'keyshop_order_units',
        help: 'Order units by state',
        labelNames: ['state'],
        registers: [registry],
        async collect() {
          for (const [state, n] of Object.entries(await count())) this.set({ state }, n);
        },
      });
      new Gauge({
        name: 'keyshop_order_units_flagged',
        help: 'Units on their way that are flagged for an operator (key not ready after the wait, G2A refusing)',
        registers: [registry],
        async collect() {
          this.set(await flagged());
        },
      });
    },
  };
}
