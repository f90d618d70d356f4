import type { Redis } from 'ioredis';
import type { SyncProgressBoard } from '../../ports/catalog.js';
import type { RedisGuard } from './redis-guard.js';

export const SYNC_PROGRESS_KEY = 'g2a:sync:progress';
const PROGRESS_TTL_SECONDS = 24 * 3600;

/**
 * Live progress of the current run in `g2a:sync:progress`, for dashboards; `sync_runs` keeps the truth. Behind
 * the guard: a dead Redis costs a sync page nothing once the guard is open, and at most its bound before.
 */
export class RedisSyncProgressBoard implements SyncProgressBoard {
  constructor(
    private readonly redis: Redis,
    private readonly guard?: RedisGuard,
  ) {}

  async publish(run: Parameters<SyncProgressBoard['publish']>[0]): Promise<void> {
    const write = () => this.write(run);
    await (this.guard ? this.guard.run(write) : write());
  }

  private async write(run: Parameters<SyncProgressBoard['publish']>[0]): Promise<void> {
    await this.redis
      .multi()
      .hset(SYNC_PROGRESS_KEY, {
        runId: run.runId,
        kind: run.kind,
        status: run.status,
        pagesDone: run.progress.pagesDone,
        pagesTotal: run.progress.pagesTotal,
        upserted: run.progress.upserted,
        changed: run.progress.changed,
        updatedAt: new Date().toISOString(),
      })
      .expire(SYNC_PROGRESS_KEY, PROGRESS_TTL_SECONDS)
      .exec();
  }
}
