import type { SyncKind } from '../../domain/sync-run.js';

/** One queue for both kinds: runs of either kind exclude each other. */
export const SYNC_RUN_QUEUE = 'sync-run';
export const SYNC_SCHEDULE_QUEUES: Record<SyncKind, string> = {
  catalog: 'sync-catalog-schedule',
  stock: 'sync-stock-schedule',
};
/** Twice a day for the full catalogue; every 15 minutes for stock and prices. */
export const SYNC_CRON: Record<SyncKind, string> = {
  catalog: '17 3,15 * * *',
  stock: '*/15 * * * *',
};
