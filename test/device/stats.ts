/**
 * Helpers for the statistical tests of the device models: moments with tolerances set by the
 * sample size, and the one-sample Kolmogorov-Smirnov statistic against a given CDF.
 */

/** Standard normal CDF (erf by Abramowitz-Stegun 7.1.26, |error| < 1.5e-7: far below any KS tolerance used here). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** sup |F_n(x) - F(x)| of the sample against cdf. */
export function ksStatistic(sample: ArrayLike<number>, cdf: (x: number) => number): number {
  const s = Float64Array.from(sample).sort();
  const n = s.length;
  let d = 0;
  for (let i = 0; i < n; i++) {
    const f = cdf(s[i]);
    d = Math.max(d, f - i / n, (i + 1) / n - f);
  }
  return d;
}

/** Asymptotic KS critical value at level alpha = 0.001 (c = 1.95): a correct model fails 1 time in 1000 seeds. */
export function ksCritical(n: number): number {
  return 1.95 / Math.sqrt(n);
}

export function mean(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s / x.length;
}

export function std(x: ArrayLike<number>): number {
  const m = mean(x);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += (x[i] - m) ** 2;
  return Math.sqrt(s / (x.length - 1));
}
