/** Why `withLock` did not run the task. */
export class LockBusyError extends Error {
  constructor(readonly resource: string) {
    super(`lock ${resource} is held`);
    this.name = 'LockBusyError';
  }
}

/** A distributed mutual-exclusion lock that expires when its holder dies. */
export interface Lock {
  /**
   * Runs `task` while holding `resource`, extending the lease while it runs. Throws `LockBusyError` at once if
   * another holder has it. `signal` aborts when the lease is lost, so long tasks can stop early.
   */
  withLock<T>(resource: string, task: (signal: AbortSignal) => Promise<T>): Promise<T>;
}
