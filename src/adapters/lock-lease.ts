/** A lock being held: `signal` aborts when it is lost; `release` never throws (a lease left behind expires). */
export interface LockLease {
  readonly signal: AbortSignal;
  release(): Promise<void>;
}

/** Takes a lease without running anything yet, so taking it can fail apart from the task failing. */
export interface LeaseSource {
  /** Throws `LockBusyError` when another holder has `resource`; any other error means the lock is unavailable. */
  acquire(resource: string): Promise<LockLease>;
}

export async function runHoldingLease<T>(
  lease: LockLease,
  task: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  try {
    return await task(lease.signal);
  } finally {
    await lease.release();
  }
}
