import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { OrderUnitState } from '../../domain/order.js';
import type { OutboxBacklog } from '../../ports/outbox.js';

/** The shop's Prometheus metrics, in one registry that `/metrics` serves. */
export interface ShopMetrics {
  registry: Registry;
  g2aCalls: Counter<'endpoint' | 'outcome'>;
  g2aLimiterWait: Histogram<'priority'>;
  fulfilmentSteps: Counter<'step' | 'outcome'>;
  /** Sync runs worked in this process, by kind and outcome, with their duration. */
  syncRuns: Histogram<'kind' | 'outcome'>;
  /** The outbox backlog (read from pg-boss) and the sync runs (read from PostgreSQL) when scraped. */
  watchBacklog(read: {
    outbox: () => Promise<OutboxBacklog>;
    syncRuns: () => Promise<SyncRunCounts[]>;
  }): void;
  /** Cache reads by layer and outcome, and the Redis guard's state, read from their counters when scraped. */
  watchCache(read: () => CacheReadings): void;
  /** Units by state, read from the database when scraped. */
  watchUnits(count: () => Promise<Record<OrderUnitState, number>>, flagged: () => Promise<number>): void;
}

export interface SyncRunCounts {
  kind: string;
  status: string;
  runs: number;
  /** Of the newest run of this kind and status that ended: how long it ran and when it ended (epoch s). */
  lastDurationSeconds: number | null;
  lastEndedAtSeconds: number | null;
}

export interface CacheReadings {
  /** Reads by layer (`near`: this process's memory; `redis`) and outcome. */
  reads: { layer: 'near' | 'redis'; outcome: string; count: number }[];
  nearEntries: number;
  redisGuardOpen: boolean;
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
  const syncRuns = new Histogram({
    name: 'keyshop_sync_run_duration_seconds',
    help: 'Sync runs worked in this process by kind (catalog, stock) and outcome (finished, failed, skipped, released, error), with their duration',
    labelNames: ['kind', 'outcome'],
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600],
    registers: [registry],
  });
  return {
    registry,
    g2aCalls,
    g2aLimiterWait,
    fulfilmentSteps,
    syncRuns,
    watchBacklog(read) {
      // One reading per scrape for all the gauges that share it (a scrape collects them together).
      const shared = <T>(load: () => Promise<T>) => {
        let inFlight: Promise<T> | undefined;
        return () =>
          (inFlight ??= load().finally(() => {
            inFlight = undefined;
          }));
      };
      const outbox = shared(read.outbox);
      const runs = shared(read.syncRuns);
      const byTopic = (name: string, help: string, pick: (t: OutboxBacklog['byTopic'][number]) => number) =>
        new Gauge({
          name,
          help,
          labelNames: ['topic'],
          registers: [registry],
          async collect() {
            this.reset();
            for (const t of (await outbox()).byTopic) this.set({ topic: t.topic }, pick(t));
          },
        });
      byTopic(
        'keyshop_outbox_pending',
        'Outbox messages waiting to be delivered, by topic',
        (t) => t.pending,
      );
      byTopic(
        'keyshop_outbox_oldest_pending_seconds',
        'Age of the oldest outbox message still waiting, by topic (0 when none waits)',
        (t) => t.oldestPendingAgeSeconds ?? 0,
      );
      byTopic(
        'keyshop_outbox_dead',
        'Outbox messages whose retries ran out (kept 7 days), by topic',
        (t) => t.dead,
      );
      const byRun = (name: string, help: string, pick: (r: SyncRunCounts) => number | null) =>
        new Gauge({
          name,
          help,
          labelNames: ['kind', 'status'],
          registers: [registry],
          async collect() {
            this.reset();
            for (const r of await runs()) {
              const value = pick(r);
              if (value !== null) this.set({ kind: r.kind, status: r.status }, value);
            }
          },
        });
      byRun('keyshop_sync_runs', 'Sync runs recorded in the database, by kind and status', (r) => r.runs);
      byRun(
        'keyshop_sync_last_run_duration_seconds',
        'Duration of the newest ended run of each kind and status',
        (r) => r.lastDurationSeconds,
      );
      byRun(
        'keyshop_sync_last_run_ended_timestamp_seconds',
        'When the newest ended run of each kind and status ended (Unix time)',
        (r) => r.lastEndedAtSeconds,
      );
    },
    watchCache(read) {
      new Counter({
        name: 'keyshop_cache_reads_total',
        help: 'Cache reads by layer (near: in this process, redis) and outcome (hit, miss; bypass: answered from PostgreSQL while invalidations waited; failure: Redis unreachable)',
        labelNames: ['layer', 'outcome'],
        registers: [registry],
        collect() {
          this.reset();
          for (const { layer, outcome, count } of read().reads) this.inc({ layer, outcome }, count);
        },
      });
      new Gauge({
        name: 'keyshop_cache_near_entries',
        help: 'Entries held by this process’s near cache',
        registers: [registry],
        collect() {
          this.set(read().nearEntries);
        },
      });
      new Gauge({
        name: 'keyshop_redis_guard_open',
        help: '1 while this process’s Redis circuit breaker is open (working without Redis)',
        registers: [registry],
        collect() {
          this.set(read().redisGuardOpen ? 1 : 0);
        },
      });
    },
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
