import { checkSplit, seedArg, wholeNumber } from '../core/check-args.js';
import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { Rng } from '../core/rng.js';
import type { Split } from '../data/dataset.js';
import { timeWords } from '../device/aging.js';
import type { Device } from '../device/config.js';
import { deviceAges, programVaries } from '../device/program.js';
import type { FaultSpec } from '../faults/index.js';
import { Conv2d } from '../nn/conv.js';
import type { Model } from '../nn/model.js';
import { ageChip, type ReadAt } from './age.js';
import { type Chip, hasFaults, programChip } from './chip.js';
import { adcHasStaticErrors } from './converters.js';
import type { CrossbarPlan } from './plan.js';
import { type BatchWork, SharedWork } from './shared-work.js';
import { productInPass, productOnChip, scratchBuffer, sharedInput, simulateBatch } from './simulate.js';
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
  /**
   * Read every chip at these times after programming (age.ts), each programmed chip aged to each
   * time rather than reprogrammed; ChipResult.reads then holds one accuracy per time. Without it,
   * chips are read as programmed (no aging at all).
   */
  reads?: ReadAt[];
}

export interface ChipResult {
  chip: number;
  accuracy: number;
  correct: number;
  /** Faulty weights (either cell of the pair stuck) per weighted layer. */
  faultyWeights: number[];
  /** With MonteCarloConfig.reads: the chip at each read time (accuracy and correct above are the first). */
  reads?: { accuracy: number; correct: number }[];
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
  /** The class each test image of a batch got on a chip (the answers `correct` counts; the first read time with `reads`), e.g. for a confusion matrix. */
  onPredictions?: (chip: number, firstImage: number, predicted: Int32Array, count: number) => void;
}

/**
 * Accuracy of many simulated chips on a test set. Work that is the same on every chip is done
 * once per image batch: the layers before the first layer that differs between chips, and, when
 * chips differ only by stuck cells, that layer's fault-free product (each chip then adds its few
 * stuck cells' contribution instead of a full matrix product). That work is held for the whole
 * run (SharedWork), and across runs when the caller passes `share` (a worker given many ranges of
 * chips of one study).
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
  share: SharedWork = new SharedWork(),
): MonteCarloResult {
  checkSplit(test, model.inputSize, model.outputSize, 'test data');
  wholeNumber(cfg.chips, 'chips', 1);
  seedArg(cfg.seed);
  if (cfg.firstChip !== undefined) wholeNumber(cfg.firstChip, 'firstChip', 0);
  if (cfg.batchSize !== undefined) wholeNumber(cfg.batchSize, 'batchSize', 1);
  if (cfg.chipsPerChunk !== undefined) wholeNumber(cfg.chipsPerChunk, 'chipsPerChunk', 1);
  if (!Array.isArray(faults))
    throw new XbarError('faults must be a fault spec (an array: parseFaultSpec or faultSpecFromJSON makes one; [] for none)');
  const t0 = performance.now();
  const reads = cfg.reads?.length ? cfg.reads : null;
  const ages = reads !== null && deviceAges(dev);
  // Every read time holds its own aged copy of the chunk's chips: keep the copies held at once near one chunk.
  const chunk = Math.max(1, Math.floor((cfg.chipsPerChunk ?? DEFAULT_CHUNK) / (ages && reads ? reads.length : 1)));
  const first = cfg.firstChip ?? 0;
  const inSize = model.inputSize;
  const nOut = model.outputSize;

  // Per-conversion ADC noise needs a stream per (chip, batch), as read noise does.
  const noisy = dev.readNoise > 0 || (plan.circuit.adcBits > 0 && plan.circuit.adcNoise > 0);
  const adcVaries = adcHasStaticErrors(plan.circuit);
  const varies = plan.layers.map((lp) => programVaries(dev) || ages || noisy || adcVaries || hasFaults(faults, lp.weighted));
  const firstVarying = varies.indexOf(true);
  const startLayer = firstVarying < 0 ? model.layers.length : plan.layers[firstVarying].layerIndex;
  const sparseStart = firstVarying >= 0 && !programVaries(dev) && !ages && plan.circuit.adcBits === 0 && plan.circuit.wireResistance === 0;
  const batchSize = cfg.batchSize ?? defaultBatch(model, plan);
  share.forRun(model, plan, dev, faults, test, batchSize);
  const base = share.chipBase(plan, dev);
  const idealW = sparseStart ? base.layers[firstVarying].ideal : null;
  const argmax = new Int32Array(batchSize);
  // Each chip's layer outputs overwrite the previous chip's: they are read before the next chip runs.
  const scratch: (Float32Array | undefined)[] = [];

  const results: ChipResult[] = [];
  for (let c0 = first; c0 < first + cfg.chips; c0 += chunk) {
    const chips: Chip[] = [];
    for (let c = c0; c < Math.min(first + cfg.chips, c0 + chunk); c++)
      chips.push(programChip(plan, dev, faults, cfg.seed, c, { base, kernels, scratch: share.programScratch }));
    // The chips as read at each time (the programmed chips themselves without reads or aging).
    const views: Chip[][] = reads ? reads.map((r) => chips.map((c) => ageChip(plan, dev, base, cfg.seed, c, r, kernels))) : [chips];
    const correct = views.map(() => new Array<number>(chips.length).fill(0));
    for (let s = 0, b = 0; s < test.n; s += batchSize, b++) {
      const n = Math.min(batchSize, test.n - s);
      const x = test.x.subarray(s * inSize, (s + n) * inSize);
      const lpFirst = plan.layers[firstVarying];
      const { h, shared } = share.batch(
        b,
        () => {
          // Shared prefix: identical on every chip, so chip 0 stands for all.
          const h = simulateBatch(model, plan, chips[0].layers, dev, x, n, { kernels, rng: null, until: startLayer });
          // The first varying layer sees the same input on every chip: prepare it (im2col, DAC) once.
          const shared =
            startLayer < model.layers.length ? sharedInput(model.layers[startLayer], h.data, n, lpFirst, plan, kernels, idealW) : null;
          return { h, shared };
        },
        (w) => batchBytes(w, test.x.buffer, lpFirst?.nIn ?? 0, lpFirst?.nOut ?? 0),
      );
      views.forEach((view, v) => {
        view.forEach((chip, k) => {
          // Read noise of a read time is keyed by the time, so a chip at 1 h is the same in any sweep.
          const rng = noisy ? Rng.derive(cfg.seed, chip.index, 1_000_003, b, ...(reads ? timeWords(reads[v].t) : [])) : null;
          const out = shared
            ? simulateBatch(model, plan, chip.layers, dev, x, n, {
                kernels,
                rng,
                scratch,
                from: {
                  layer: startLayer,
                  h,
                  product: productInPass(shared, chip.layers[firstVarying])
                    ? undefined
                    : productOnChip(
                        shared,
                        lpFirst,
                        chip.layers[firstVarying],
                        plan,
                        kernels,
                        scratchBuffer(scratch, firstVarying, shared.R * lpFirst.nOut),
                        rng,
                      ),
                },
              }).data
            : h.data;
          classify(out, n, nOut, argmax);
          for (let i = 0; i < n; i++) if (argmax[i] === test.y[s + i]) correct[v][k]++;
          if (v === 0) hooks.onPredictions?.(chip.index, s, argmax, n);
          if (hooks.onOutputs && v === 0) {
            const volts = new Float32Array(out.length);
            for (let i = 0; i < volts.length; i++) volts[i] = out[i] * plan.voltsPerUnit;
            hooks.onOutputs(chip.index, s, volts, n);
          }
        });
      });
    }
    const acc = (c: number) => (test.n ? c / test.n : 0);
    chips.forEach((chip, k) => {
      const r: ChipResult = {
        chip: chip.index,
        accuracy: acc(correct[0][k]),
        correct: correct[0][k],
        faultyWeights: chip.layers.map((l) => l.faultyCells),
      };
      if (reads) r.reads = correct.map((c) => ({ accuracy: acc(c[k]), correct: c[k] }));
      results.push(r);
      hooks.onChip?.(r, results.length);
    });
  }
  return { chips: results, summary: summarize(results.map((r) => r.accuracy)), seconds: (performance.now() - t0) / 1000, images: test.n };
}

const DEFAULT_CHUNK = 16;

/** Bytes a batch's shared work holds beyond views of the test set, with what it computes on first use (rows, fault-free product). */
function batchBytes(w: BatchWork, testBuffer: ArrayBufferLike, nIn: number, nOut: number): number {
  const own = (a: ArrayBufferView | undefined) => (a && a.buffer !== testBuffer ? a.byteLength : 0);
  let bytes = own(w.h.data);
  for (const v of w.h.values ?? []) if (v && v.data !== w.h.data) bytes += own(v.data);
  const s = w.shared;
  if (s) {
    bytes += s.xin && s.xin.buffer !== w.h.data.buffer ? own(s.xin) : 0;
    if (s.csr) bytes += s.csr.rowPtr.byteLength + s.csr.col.byteLength + s.csr.val.byteLength;
    // The row-pair plan (native/spmm.c) at most: rows and pair starts (~6 bytes a row), a column
    // and two values per union term, the union being at most the nonzeros.
    if (s.csr?.pairs) bytes += 6 * s.R + 12 * s.csr.col.length;
    if (s.idealW) bytes += 4 * s.R * (nOut + (s.xin ? 0 : nIn));
  }
  return bytes;
}

/** One MonteCarloResult per read time of a run with MonteCarloConfig.reads (seconds: the whole run's). */
export function resultsPerRead(r: MonteCarloResult, nReads: number): MonteCarloResult[] {
  return Array.from({ length: nReads }, (_, i) => {
    const chips = r.chips.map((c) => ({ ...c, ...(c.reads?.[i] ?? { accuracy: c.accuracy, correct: c.correct }), reads: undefined }));
    return { ...r, chips, summary: summarize(chips.map((c) => c.accuracy)) };
  });
}

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
