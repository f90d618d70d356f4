/** What a limited attempt was answered: go ahead, or wait this many seconds. */
export type AttemptVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * A count of attempts per key (a client address) in a fixed window, shared by every process. An attempt is
 * taken before the work it stands for starts, so concurrent attempts cannot all slip under the limit; one that
 * turned out not to count (a sign-in that succeeded) is given back.
 */
export interface AttemptLimiter {
  take(key: string): Promise<AttemptVerdict>;
  giveBack(key: string): Promise<void>;
}
