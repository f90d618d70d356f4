/**
 * The Redis guard's bound on one call in tests of behaviour (not of timing): above the client's 250 ms command
 * timeout, so an unreachable or frozen Redis still fails every call, while a healthy one answering late on a
 * machine that runs many test files at once is not taken for dead.
 */
export const TEST_REDIS_CALL_TIMEOUT_MS = 1_000;
