import type PgBoss from 'pg-boss';
import type { SyncKind } from '../../domain/sync-run.js';
import type { JobQueue } from '../../ports/job-queue.js';
import { SYNC_RUN_QUEUE } from './sync-queues.js';

/** A sync run may take a while at G2A's rate; a crashed worker's job comes back after this. */
const SYNC_JOB_EXPIRY_SECONDS = 60 * 60;

/** Enqueues jobs through the caller's transaction (`db`): the job exists if and only if it commits. */
export class PgBossJobQueue implements JobQueue {
  constructor(
    private readonly boss: PgBoss,
    private readonly db: PgBoss.Db,
  ) {}

  async enqueueSyncRun(run: { runId: string; kind: SyncKind }): Promise<string> {
    const id = await this.boss.send(SYNC_RUN_QUEUE, run, {
      db: this.db,
      retryLimit: 3,
      retryDelay: 30,
      retryBackoff: true,
      expireInSeconds: SYNC_JOB_EXPIRY_SECONDS,
    });
    if (id === null) throw new Error(`queue ${SYNC_RUN_QUEUE} does not exist`);
    return id;
  }

  async cancelSyncRun(jobId: string): Promise<void> {
    await this.boss.cancel(SYNC_RUN_QUEUE, jobId, { db: this.db });
  }
}
