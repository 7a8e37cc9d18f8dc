import { availableParallelism } from 'node:os';
import { runWorkerPool } from '../../core/worker-pool-node.js';
import type { Circuit } from '../../crossbar/circuit.js';
import { inSharedMemory } from '../../crossbar/parallel-node.js';
import type { Split } from '../../data/dataset.js';
import type { Model } from '../../nn/model.js';
import type { ModelSpec } from '../../nn/spec.js';
import type { CalibratedChipResult, CalibratedChipsRunner, ChipCalibrationConfig } from './calibration.js';

/** What every calibration worker needs (structured-cloned once per run; the image sets in shared memory). */
export interface CalibrationJob {
  spec: ModelSpec;
  /** The model's weights before calibration: each chip starts from them. */
  weights: Float32Array[];
  data: Split;
  /** Images each chip is measured on: in the simulator with `circuit`, or in software (null). */
  test: Split;
  circuit: Circuit | null;
  /** The calibration of chip c is chipConfig(cfg, c). */
  cfg: Omit<ChipCalibrationConfig, 'chip'>;
  kernels: 'native' | 'js';
}

/** Main thread to worker: calibrate and run one chip. */
export type CalibrationTask = { chip: number };

/**
 * calibrateAndSimulate (or, with circuit null, calibrateAndMeasure) for several chips over worker
 * threads, one chip at a time to whichever worker is free (minutes per chip on vgg-small). Each
 * chip starts from `model`'s weights and depends on (seed, chip) alone, so a chip's result is the
 * serial one's with the same single-threaded kernels. onChip sees each chip as it ends (to cache
 * it before the others end).
 */
export async function calibrateChipsParallel(
  model: Model,
  data: Split,
  cfg: Omit<ChipCalibrationConfig, 'chip'>,
  circuit: Circuit | null,
  test: Split,
  chips: number[],
  opts: { workers?: number; kernels?: 'native' | 'js'; onChip?: (r: CalibratedChipResult) => void } = {},
): Promise<CalibratedChipResult[]> {
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), chips.length));
  const shared = (s: Split): Split => ({ ...s, x: inSharedMemory(s.x), y: inSharedMemory(s.y) });
  const job: CalibrationJob = {
    spec: model.spec,
    weights: model.params.map((p) => p.value),
    data: shared(data),
    test: shared(test),
    circuit,
    cfg: { ...cfg, rails: { x: inSharedMemory(cfg.rails.x), n: cfg.rails.n } },
    kernels: opts.kernels ?? 'native',
  };
  const results: CalibratedChipResult[] = [];
  const tasks = chips.map((chip): CalibrationTask => ({ chip }));
  await runWorkerPool<CalibrationTask, CalibratedChipResult>(
    new URL('./calibration-worker.js', import.meta.url),
    job,
    workers,
    tasks,
    (r) => {
      results.push(r);
      opts.onChip?.(r);
    },
    () => true,
  );
  return results.sort((a, b) => a.chip - b.chip);
}

/** The placement search's chips (calibrationPlacementProblem) over worker threads. */
export function calibrateChipsInWorkers(opts: { workers?: number; kernels?: 'native' | 'js' }): CalibratedChipsRunner {
  return (model, data, cfg, val, chips) => calibrateChipsParallel(model, data, cfg, null, val, chips, opts);
}
