import type { Split } from '../data/dataset.js';
import type { Device } from '../device/config.js';
import type { FaultSpec } from '../faults/spec.js';
import type { Model } from '../nn/model.js';
import { type ChipBase, chipBase, ProgramScratch } from './chip.js';
import type { CrossbarPlan } from './plan.js';
import type { Activations, SharedInput } from './simulate.js';

/** What one image batch gives every chip: the activations entering the first varying layer and that layer's prepared input. */
export interface BatchWork {
  h: Activations;
  shared: SharedInput | null;
}

/**
 * Bytes of batch work held at most: the `mlp` on MNIST's 10000 test images holds ~12 MB (the
 * inputs' nonzeros), ~22 MB with the stuck-cell shortcut's fault-free product.
 */
const DEFAULT_BUDGET = 64 * 2 ** 20;

/**
 * The work every chip of a Monte Carlo study shares whatever its index: the chip base (chipBase:
 * target conductances, fault-free weights) and, per image batch, the layers before the first one
 * that differs between chips with that layer's prepared input (the inputs' nonzeros, the
 * fault-free product). runMonteCarlo computes it once per batch rather than once per chunk of
 * chips; a worker of the parallel runner keeps one across the ranges of chips it is given, which
 * before cost it ~6 ms per `mlp` chip (one pass over the test set's pixels per range) plus the
 * chip base per range. Batches are held while they fit `budgetBytes`; the rest are recomputed
 * per chunk as before. Held work stands for one run: `forRun` drops it when the model, plan,
 * device, fault spec, test set or batch size differ (by identity: a caller must not change them
 * in place between runs sharing it).
 */
export class SharedWork {
  private key: readonly unknown[] = [];
  private base: ChipBase | null = null;
  private readonly batches = new Map<number, BatchWork>();
  private bytes = 0;
  /** programChip's working conductances, reused chip after chip. */
  readonly programScratch = new ProgramScratch();

  constructor(readonly budgetBytes = DEFAULT_BUDGET) {}

  /** This holder for a run; what it held for another run is dropped. */
  forRun(model: Model, plan: CrossbarPlan, dev: Device, faults: FaultSpec, test: Split, batchSize: number): this {
    const key = [model, plan, dev, faults, test, test.x, test.y, test.n, batchSize];
    if (key.length !== this.key.length || key.some((k, i) => k !== this.key[i])) {
      this.key = key;
      this.base = null;
      this.batches.clear();
      this.bytes = 0;
    }
    return this;
  }

  chipBase(plan: CrossbarPlan, dev: Device): ChipBase {
    this.base ??= chipBase(plan, dev);
    return this.base;
  }

  /** Batch b's work: held, or made by `make` (and held when it fits; `bytes` estimates what it will hold). */
  batch(b: number, make: () => BatchWork, bytes: (w: BatchWork) => number): BatchWork {
    const held = this.batches.get(b);
    if (held) return held;
    const w = make();
    const size = bytes(w);
    if (this.bytes + size <= this.budgetBytes) {
      this.batches.set(b, w);
      this.bytes += size;
    }
    return w;
  }
}
