import { availableParallelism } from 'node:os';
import { runWorkerPool } from '../core/worker-pool-node.js';
import type { Split } from '../data/dataset.js';
import type { Device } from '../device/config.js';
import type { FaultSpec } from '../faults/index.js';
import type { Model } from '../nn/model.js';
import type { ModelSpec } from '../nn/spec.js';
import type { ChipResult, MonteCarloConfig, MonteCarloResult } from './montecarlo.js';
import type { CrossbarPlan } from './plan.js';
import { summarize } from './stats.js';

/** What one worker needs for every range of chips of a run (structured-cloned into the worker once per run). */
export interface WorkerJob {
  spec: ModelSpec;
  weights: Float32Array[];
  plan: CrossbarPlan;
  device: Device;
  faults: FaultSpec;
  test: Split;
  cfg: MonteCarloConfig;
  kernels: 'native' | 'js';
}

/** Main thread to worker: run chips [first, first + chips). */
export type WorkerTask = { first: number; chips: number };
/** Worker to main thread: one chip's result, or the end of the current range. */
export type WorkerReport = { chip: ChipResult } | { done: true };

export interface ParallelOptions {
  /** Worker threads; default: all cores. Each runs single-threaded BLAS. */
  workers?: number;
  kernels?: 'native' | 'js';
  onChip?: (r: ChipResult, done: number) => void;
}

/**
 * runMonteCarlo over worker threads. The chips go out in shrinking ranges (chipRanges), each to
 * whichever worker is free (with one half each, the faster worker waited ~10% of the run). Every chip
 * depends on (seed, chip index) alone, so the result is a serial run's with one-thread kernels, chip
 * for chip; against a serial run on several OpenBLAS threads the dense layers' outputs agree within
 * rounding, not bit for bit (OpenBLAS blocks threaded sums differently: native/README.md).
 */
export async function runMonteCarloParallel(
  model: Model,
  plan: CrossbarPlan,
  device: Device,
  faults: FaultSpec,
  test: Split,
  cfg: MonteCarloConfig,
  opts: ParallelOptions = {},
): Promise<MonteCarloResult> {
  const t0 = performance.now();
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), cfg.chips));
  const first = cfg.firstChip ?? 0;
  const tasks = chipRanges(first, cfg.chips, workers, cfg.chipsPerChunk);
  // The test set goes to every worker: in shared memory it is copied once here instead of
  // structured-cloned per worker (~40 ms each way for MNIST's 31 MB).
  const job: WorkerJob = {
    spec: model.spec,
    weights: model.params.map((p) => p.value),
    plan,
    device,
    faults,
    test: { ...test, x: inSharedMemory(test.x), y: inSharedMemory(test.y) },
    cfg,
    kernels: opts.kernels ?? 'native',
  };
  const results: ChipResult[] = [];
  await runWorkerPool<WorkerTask, WorkerReport>(
    new URL('./mc-worker.js', import.meta.url),
    job,
    workers,
    tasks,
    (m) => {
      if ('chip' in m) {
        results.push(m.chip);
        opts.onChip?.(m.chip, results.length);
      }
    },
    (m) => 'done' in m,
  );
  results.sort((a, b) => a.chip - b.chip);
  return { chips: results, summary: summarize(results.map((r) => r.accuracy)), seconds: (performance.now() - t0) / 1000, images: test.n };
}

/**
 * Chips in ranges that shrink as the run goes (guided self-scheduling): each ~1/(4 x workers) of
 * the chips still to hand out, at most chipsPerChunk (default 16), down to single chips at the
 * end, so that the workers finish within about one chip of each other (with fixed ranges of
 * ~1/8 of a share, one worker idled for half a range, ~3 `mlp` chips, at the end of a run). Early
 * ranges stay large: a range's chips share the work of the layers before the first varying one
 * when it does not fit SharedWork's budget.
 */
export function chipRanges(first: number, chips: number, workers: number, maxChunk = 16): { first: number; chips: number }[] {
  const out: { first: number; chips: number }[] = [];
  for (let c = first, left = chips; left > 0; ) {
    const size = Math.max(1, Math.min(maxChunk, Math.ceil(left / (4 * workers))));
    out.push({ first: c, chips: size });
    c += size;
    left -= size;
  }
  return out;
}

export function inSharedMemory<T extends Float32Array | Uint8Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const copy = (
    a instanceof Float32Array ? new Float32Array(new SharedArrayBuffer(a.byteLength)) : new Uint8Array(new SharedArrayBuffer(a.byteLength))
  ) as T;
  copy.set(a);
  return copy;
}
