import type PgBoss from 'pg-boss';

/**
 * The workers of this process by queue, so that a commit can wake the ones that have new work at once instead
 * of at their next poll. Other processes find the work at their next poll.
 */
export class WorkerWakeups {
  private readonly workers = new Map<string, string[]>();

  constructor(private readonly boss: PgBoss) {}

  register(queue: string, workerId: string): void {
    this.workers.set(queue, [...(this.workers.get(queue) ?? []), workerId]);
  }

  /** Forgets the workers of a queue (they were stopped). */
  unregister(queue: string): void {
    this.workers.delete(queue);
  }

  wake(queues: Iterable<string>): void {
    for (const queue of queues) {
      for (const id of this.workers.get(queue) ?? []) this.boss.notifyWorker(id);
    }
  }
}
