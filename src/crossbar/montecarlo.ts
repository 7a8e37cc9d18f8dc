import type { Kernels } from '../core/kernels.js';
import { Rng } from '../core/rng.js';
import type { Split } from '../data/dataset.js';
import type { Device } from '../device/config.js';
import { programVaries } from '../device/program.js';
import type { FaultSpec } from '../faults/index.js';
import { Conv2d } from '../nn/conv.js';
import type { Model } from '../nn/model.js';
import { type Chip, chipBase, patternsFor, programChip } from './chip.js';
import type { CrossbarPlan } from './plan.js';
import { layerInput, productOnChip, type SharedInput, scratchBuffer, sharedInput, simulateBatch } from './simulate.js';
import { type Summary, summarize } from './stats.js';

export interface MonteCarloConfig {
  chips: number;
  seed: number;
  /** Test images per batch: bounds memory whatever the test-set size (default: defaultBatch). */
  batchSize?: number;
  /** Chips programmed and held at once: bounds memory whatever the chip count. */
  chipsPerChunk?: number;
  /** First chip index (to split a run or to reproduce one chip). */
  firstChip?: number;
}

export interface ChipResult {
  chip: number;
  accuracy: number;
  correct: number;
  /** Faulty weights (either cell of the pair stuck) per weighted layer. */
  faultyWeights: number[];
}

export interface MonteCarloResult {
  chips: ChipResult[];
  summary: Summary;
  seconds: number;
  images: number;
}

export interface MonteCarloHooks {
  onChip?: (r: ChipResult, done: number) => void;
  /** Output voltages of a chip on a batch of test images [count, nOut], streamed (never all held). */
  onOutputs?: (chip: number, firstImage: number, volts: Float32Array, count: number) => void;
}

/**
 * Accuracy of many simulated chips on a test set. Work that is the same on every chip is done
 * once per image batch: the layers before the first layer that differs between chips, and, when
 * chips differ only by stuck cells, that layer's fault-free product (each chip then adds its few
 * stuck cells' contribution instead of a full matrix product).
 */
export function runMonteCarlo(
  model: Model,
  plan: CrossbarPlan,
  dev: Device,
  faults: FaultSpec,
  test: Split,
  cfg: MonteCarloConfig,
  kernels: Kernels,
  hooks: MonteCarloHooks = {},
): MonteCarloResult {
  const t0 = performance.now();
  const chunk = Math.max(1, cfg.chipsPerChunk ?? DEFAULT_CHUNK);
  const first = cfg.firstChip ?? 0;
  const inSize = model.inputSize;
  const nOut = model.outputSize;

  const varies = plan.layers.map((lp) => programVaries(dev) || dev.readNoise > 0 || patternsFor(faults, lp.weighted).length > 0);
  const firstVarying = varies.indexOf(true);
  const startLayer = firstVarying < 0 ? model.layers.length : plan.layers[firstVarying].layerIndex;
  const sparseStart = firstVarying >= 0 && !programVaries(dev) && plan.circuit.adcBits === 0 && plan.circuit.wireResistance === 0;
  const base = chipBase(plan, dev);
  const idealW = sparseStart ? base.layers[firstVarying].ideal : null;
  const batchSize = cfg.batchSize ?? defaultBatch(model, plan);
  const argmax = new Int32Array(batchSize);
  // Each chip's layer outputs overwrite the previous chip's: they are read before the next chip runs.
  const scratch: (Float32Array | undefined)[] = [];

  const results: ChipResult[] = [];
  for (let c0 = first; c0 < first + cfg.chips; c0 += chunk) {
    const chips: Chip[] = [];
    for (let c = c0; c < Math.min(first + cfg.chips, c0 + chunk); c++)
      chips.push(programChip(plan, dev, faults, cfg.seed, c, { base, kernels }));
    const correct = new Array<number>(chips.length).fill(0);
    for (let s = 0, b = 0; s < test.n; s += batchSize, b++) {
      const n = Math.min(batchSize, test.n - s);
      const x = test.x.subarray(s * inSize, (s + n) * inSize);
      // Shared prefix: identical on every chip, so chip 0 stands for all.
      const h = simulateBatch(model, plan, chips[0].layers, dev, x, n, { kernels, rng: null, until: startLayer });
      // The first varying layer sees the same input on every chip: unroll it (im2col, DAC) once.
      let shared: SharedInput | null = null;
      if (startLayer < model.layers.length) {
        const layer = model.layers[startLayer];
        const lp = plan.layers[firstVarying];
        shared = sharedInput(
          layerInput(layer instanceof Conv2d ? layer.im2col(h.data, n, kernels) : h.data, lp, plan),
          lp,
          plan,
          kernels,
          idealW,
        );
      }
      const lpFirst = plan.layers[firstVarying];
      chips.forEach((chip, k) => {
        const rng = dev.readNoise > 0 ? Rng.derive(cfg.seed, chip.index, 1_000_003, b) : null;
        const out = shared
          ? simulateBatch(model, plan, chip.layers, dev, x, n, {
              kernels,
              rng,
              scratch,
              from: {
                layer: startLayer,
                h,
                product: productOnChip(
                  shared,
                  lpFirst,
                  chip.layers[firstVarying],
                  plan,
                  kernels,
                  scratchBuffer(scratch, firstVarying, shared.R * lpFirst.nOut),
                ),
              },
            }).data
          : h.data;
        classify(out, n, nOut, argmax);
        for (let i = 0; i < n; i++) if (argmax[i] === test.y[s + i]) correct[k]++;
        if (hooks.onOutputs) {
          const v = new Float32Array(out.length);
          for (let i = 0; i < v.length; i++) v[i] = out[i] * plan.voltsPerUnit;
          hooks.onOutputs(chip.index, s, v, n);
        }
      });
    }
    chips.forEach((chip, k) => {
      const r: ChipResult = {
        chip: chip.index,
        accuracy: test.n ? correct[k] / test.n : 0,
        correct: correct[k],
        faultyWeights: chip.layers.map((l) => l.faultyCells),
      };
      results.push(r);
      hooks.onChip?.(r, results.length);
    });
  }
  return { chips: results, summary: summarize(results.map((r) => r.accuracy)), seconds: (performance.now() - t0) / 1000, images: test.n };
}

const DEFAULT_CHUNK = 16;

/**
 * Images per batch: 1000; for small networks up to 10000 (in thousands) while the largest layer
 * input of a batch stays within 2^20 floats (per-batch costs dominate tiny layers: the
 * 64-8-8-8-10 network runs ~1.5x faster in batches of 10000); for large ones fewer (in fifties)
 * so that it stays within 2^25 floats, 128 MB (vgg-small's first unrolled convolution takes
 * 450 MB per 1000 images). It depends on the model alone, so results (read noise is drawn per
 * batch) do not change with the chip count, chunking or worker count.
 */
export function defaultBatch(model: Model, plan: CrossbarPlan): number {
  let perImage = model.inputSize;
  for (const lp of plan.layers) {
    const layer = model.layers[lp.layerIndex];
    const rows = layer instanceof Conv2d ? layer.geom.oh * layer.geom.ow : 1;
    perImage = Math.max(perImage, rows * Math.max(lp.nIn, lp.nOut));
  }
  if (perImage * 1000 > 2 ** 25) return Math.max(1, Math.floor(2 ** 25 / perImage / 50) * 50);
  return Math.max(1000, Math.min(10000, Math.floor(2 ** 20 / perImage / 1000) * 1000));
}

/** Index of the largest output of each of n rows (the first one on ties). */
function classify(out: Float32Array, n: number, nOut: number, into: Int32Array): void {
  for (let i = 0, o = 0; i < n; i++, o += nOut) {
    let best = 0;
    let bv = out[o];
    for (let j = 1; j < nOut; j++) {
      const v = out[o + j];
      if (v > bv) {
        bv = v;
        best = j;
      }
    }
    into[i] = best;
  }
}
