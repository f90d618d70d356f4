import type { Logger } from '../../ports/logger.js';

export type ThrottledWarning = (fields: Record<string, unknown>, message: string) => void;

/**
 * Warns at most once per interval and counts what it held back, so an outage that fails every request cannot
 * flood the log.
 */
export function createThrottledWarning(logger: Logger | undefined, intervalMs = 5_000): ThrottledWarning {
  let lastWarnedAt = Number.NEGATIVE_INFINITY;
  let suppressed = 0;
  return (fields, message) => {
    const now = Date.now();
    if (now - lastWarnedAt < intervalMs) {
      suppressed += 1;
      return;
    }
    lastWarnedAt = now;
    logger?.warn({ ...fields, suppressed }, message);
    suppressed = 0;
  };
}
