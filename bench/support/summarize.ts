export interface Summary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles of `values` (milliseconds, or any unit: the summary keeps it). */
export function summarize(values: ArrayLike<number>): Summary {
  const sorted = Float64Array.from(values).sort();
  const count = sorted.length;
  if (count === 0) return { count: 0, mean: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const at = (percentile: number) => sorted[Math.min(count - 1, Math.ceil((percentile / 100) * count) - 1)]!;
  let total = 0;
  for (const value of sorted) total += value;
  return {
    count,
    mean: total / count,
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted[count - 1]!,
  };
}
