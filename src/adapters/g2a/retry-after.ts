/**
 * Milliseconds to wait according to an HTTP `Retry-After` header: delta-seconds or an HTTP date.
 * Undefined when the header is absent or unreadable; never negative.
 */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Math.round(Number(raw) * 1000);
  // An HTTP date always names a month; this keeps Date.parse from reading strings like "-5" as years.
  const date = /[a-z]{3}/i.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}
