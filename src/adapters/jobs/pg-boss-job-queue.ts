import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type PgBoss from 'pg-boss';
import type { SyncKind } from '../../domain/sync-run.js';
import type { JobQueue } from '../../ports/catalog.js';
import { kyselyExecutor } from './pg-boss-executor.js';
import type { Database } from '../postgres/schema.js';
import { SYNC_RUN_QUEUE } from './sync-queues.js';

/** A sync run may take a while at G2A's rate; a crashed worker's job comes back after this. */
const SYNC_JOB_EXPIRY_SECONDS = 60 * 60;

/** Enqueues jobs through the caller's transaction: the job exists if and only if it commits. */
export class PgBossJobQueue implements JobQueue {
  constructor(
    private readonly tx: Kysely<Database>,
    private readonly boss: PgBoss,
  ) {}

  async enqueueSyncRun(run: { runId: string; kind: SyncKind }): Promise<string> {
    const id = randomUUID();
    await this.boss.send(SYNC_RUN_QUEUE, run, {
      id,
      db: kyselyExecutor(this.tx),
      retryLimit: 3,
      retryDelay: 30,
      retryBackoff: true,
      expireInSeconds: SYNC_JOB_EXPIRY_SECONDS,
    });
    return id;
  }

  async cancelSyncRun(jobId: string): Promise<void> {
    await this.boss.cancel(SYNC_RUN_QUEUE, jobId, { db: kyselyExecutor(this.tx) });
  }
}
