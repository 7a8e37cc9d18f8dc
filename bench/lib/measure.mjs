// Timing and memory helpers shared by the benches. Python peers (bench/lib/measure.py) time the same way.
import { readFileSync } from 'node:fs';

/** Median of the values (does not modify them). */
export function median(values) {
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * Median seconds per call of `fn`. One warm-up call first; fast calls are repeated within a sample so
 * each sample lasts at least `minSampleMs`, since timer noise dominates sub-millisecond samples.
 * Returns undefined (skip) when `runs` samples would exceed `budgetMs`, judged from the warm-up.
 */
export function timeit(fn, { runs = 7, minSampleMs = 25, budgetMs = Infinity } = {}) {
  const t0 = performance.now();
  fn();
  const first = Math.max(performance.now() - t0, 1e-3);
  if (first * runs > budgetMs) return undefined;
  const reps = Math.max(1, Math.ceil(minSampleMs / first));
  const samples = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    for (let i = 0; i < reps; i++) fn();
    samples.push((performance.now() - t) / reps / 1000);
  }
  return median(samples);
}

/** Peak resident set size of this process so far, in MiB. */
export function peakRssMiB() {
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * Fraction (0..1) of all CPUs busy over the next `ms`, from /proc/stat; undefined off Linux. Call it
 * while idle: the 1-minute load average lags, and other processes on a 2-core machine skew figures badly.
 */
export async function cpuBusy(ms = 1000) {
  const read = async () => {
    const { readFile } = await import('node:fs/promises');
    const f = (await readFile('/proc/stat', 'utf8')).split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + f[4], total: f.reduce((x, y) => x + y, 0) };
  };
  try {
    const a = await read();
    await new Promise((r) => setTimeout(r, ms));
    const b = await read();
    return 1 - (b.idle - a.idle) / (b.total - a.total);
  } catch {
    return undefined;
  }
}

/**
 * CPU counters for othersBusy(): all CPUs from /proc/stat, and this process plus its waited-for
 * children (spawnSync peers included) from /proc/self/stat, both in clock ticks. Undefined off Linux.
 */
export function cpuSnapshot() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    // /proc/self/stat: the command name may hold spaces, so count fields after its closing ')'.
    const s = readFileSync('/proc/self/stat', 'utf8');
    const g = s
      .slice(s.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const own = g[11] + g[12] + g[13] + g[14]; // utime, stime, cutime, cstime
    const total = f.reduce((x, y) => x + y, 0);
    return { busy: total - f[3] - f[4], total, own };
  } catch {
    return undefined;
  }
}

/**
 * Fraction (0..1) of all CPU time between two cpuSnapshot()s that other processes used: on a shared
 * 2-core machine, the figure that says whether a run's timings can be trusted (cpuBusy only samples the start).
 */
export function othersBusy(a, b) {
  if (!a || !b || b.total <= a.total) return undefined;
  return Math.max(0, (b.busy - a.busy - (b.own - a.own)) / (b.total - a.total));
}
