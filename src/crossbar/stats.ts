/** Summary of a Monte Carlo sample (chip accuracies): spread and a 95% interval for the mean. */
export interface Summary {
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
  /** 95% confidence interval of the mean (normal approximation, t for small n). */
  ci95: [number, number];
  /** 2.5th and 97.5th percentiles of the values: where 95% of chips fall. */
  p025: number;
  p975: number;
}

// Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom; 1.96 beyond.
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/**
 * Accuracies live in [0, 1], and so does their mean: the t interval is clipped to `range` (with
 * few chips near 100% it would otherwise reach past it).
 */
export function summarize(values: number[], range: [number, number] = [0, 1]): Summary {
  const n = values.length;
  if (n === 0)
    return {
      n,
      mean: Number.NaN,
      std: Number.NaN,
      min: Number.NaN,
      max: Number.NaN,
      ci95: [Number.NaN, Number.NaN],
      p025: Number.NaN,
      p975: Number.NaN,
    };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  const t = n > 1 ? (T975[n - 2] ?? 1.96) : 0;
  const half = (t * std) / Math.sqrt(n);
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n,
    mean,
    std,
    min: sorted[0],
    max: sorted[n - 1],
    ci95: [Math.max(range[0], mean - half), Math.min(range[1], mean + half)],
    p025: quantile(sorted, 0.025),
    p975: quantile(sorted, 0.975),
  };
}

/** Linear-interpolated quantile of sorted values. */
export function quantile(sorted: number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
