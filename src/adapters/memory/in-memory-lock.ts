import { LockBusyError, type Lock } from '../../ports/lock.js';

/**
 * An exclusive lock within one process, for use-case tests: a second holder of a resource gets
 * `LockBusyError` at once. Tests can hold a resource as another worker would, or end a lease early.
 */
export class InMemoryLock implements Lock {
  private readonly leases = new Map<string, AbortController>();

  async withLock<T>(resource: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (this.leases.has(resource)) throw new LockBusyError(resource);
    const lease = new AbortController();
    this.leases.set(resource, lease);
    try {
      return await task(lease.signal);
    } finally {
      if (this.leases.get(resource) === lease) this.leases.delete(resource);
    }
  }

  isHeld(resource: string): boolean {
    return this.leases.has(resource);
  }

  /** Holds `resource` as another worker would, until the returned function is called. */
  holdElsewhere(resource: string): () => void {
    if (this.leases.has(resource)) throw new LockBusyError(resource);
    const lease = new AbortController();
    this.leases.set(resource, lease);
    return () => {
      if (this.leases.get(resource) === lease) this.leases.delete(resource);
    };
  }

  /** Ends the current lease of `resource` as an expiry would: its holder's signal aborts and others may take it. */
  expire(resource: string): void {
    const lease = this.leases.get(resource);
    this.leases.delete(resource);
    lease?.abort(new Error(`lease of ${resource} expired`));
  }
}
