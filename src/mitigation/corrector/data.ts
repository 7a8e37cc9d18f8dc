import { XbarError } from '../../core/errors.js';
import type { Kernels } from '../../core/kernels.js';
import { Rng } from '../../core/rng.js';
import { type Chip, idealLayerWeights, programChip } from '../../crossbar/chip.js';
import type { CrossbarPlan } from '../../crossbar/plan.js';
import { productOnChip, type SharedInput, type SimOptions, sharedInput, simulateBatch } from '../../crossbar/simulate.js';
import type { Split } from '../../data/dataset.js';
import type { Device } from '../../device/config.js';
import { programVaries } from '../../device/program.js';
import type { FaultSpec } from '../../faults/spec.js';
import type { Model } from '../../nn/model.js';
import { size, type Tensor } from '../../nn/tensor.js';
import { type ChipDefect, customDefect, drawDefect, type Population, STREAM_IMAGES, STREAM_NOISE, STREAM_PROBES } from '../population.js';

/**
 * What a corrector reads from a chip: the output layer's voltages and, optionally, the neuron
 * voltages of chosen hidden layers (as they drive the next array's word lines).
 */
export interface FeatureGroup {
  /** 'output' or 'hidden<l>' (weighted layer l). */
  name: string;
  weighted: number;
  size: number;
  /** For hidden groups: simulateBatch's `until` that returns this layer's neuron outputs. */
  until: number | null;
  /** Volts per unit of the layer's output. */
  volts: number;
}

export interface FeatureLayout {
  groups: FeatureGroup[];
  size: number;
}

/** A trained network on its crossbar plan and device, with the features a corrector reads. */
export interface CorrectorEnv {
  model: Model;
  plan: CrossbarPlan;
  device: Device;
  kernels: Kernels;
  nWeighted: number;
  classes: number;
  layout: FeatureLayout;
  /** The first weighted layer's fault-free product can be shared by chips (no variation, ADC or wires). */
  sharable: boolean;
}

export function makeEnv(model: Model, plan: CrossbarPlan, device: Device, kernels: Kernels, hidden: number[] = []): CorrectorEnv {
  const nWeighted = plan.layers.length;
  const groups: FeatureGroup[] = [];
  for (const l of [...new Set(hidden)].sort((a, b) => a - b)) {
    if (!Number.isInteger(l) || l < 0 || l >= nWeighted - 1)
      throw new XbarError(`--hidden-voltages ${l}: a hidden layer is a weighted layer 0..${nWeighted - 2} (the last one is the output)`);
    const lp = plan.layers[l];
    // Stop at the first node that reads the neuron's output as its (first) input: the pass
    // stopped there returns that output.
    const until = model.graph ? model.graph.inputs.findIndex((ins) => ins[0] === lp.outputNode) : lp.outputNode + 1;
    if (until < 0) throw new XbarError(`--hidden-voltages ${l}: no node reads weighted layer ${l}'s output as its first input`);
    groups.push({
      name: `hidden${l}`,
      weighted: l,
      size: size(model.layers[lp.layerIndex].outShape),
      until,
      volts: plan.circuit.vRead / plan.layers[l + 1].xMax,
    });
  }
  groups.push({ name: 'output', weighted: nWeighted - 1, size: model.outputSize, until: null, volts: plan.voltsPerUnit });
  const sharable = !programVaries(device) && plan.circuit.adcBits === 0 && plan.circuit.wireResistance === 0;
  return {
    model,
    plan,
    device,
    kernels,
    nWeighted,
    classes: model.outputSize,
    layout: { groups, size: groups.reduce((a, g) => a + g.size, 0) },
    sharable,
  };
}

/** Offset of the output voltages in a feature row (they come last). */
export const outputOffset = (layout: FeatureLayout): number => layout.size - layout.groups[layout.groups.length - 1].size;

/** Work shared by every chip on one image batch: the input to the first weighted layer and its fault-free product. */
export interface Prefix {
  layer: number;
  h: Tensor;
  shared?: SharedInput;
}

export function sharedPrefix(env: CorrectorEnv, x: Float32Array, n: number): Prefix {
  const first = env.plan.layers[0];
  const h = simulateBatch(env.model, env.plan, [], env.device, x, n, { kernels: env.kernels, rng: null, until: first.layerIndex });
  if (!env.sharable) return { layer: first.layerIndex, h };
  const layer = env.model.layers[first.layerIndex];
  return {
    layer: first.layerIndex,
    h,
    shared: sharedInput(layer, h.data, n, first, env.plan, env.kernels, idealLayerWeights(first, env.device, env.plan.circuit)),
  };
}

/** The features [n, layout.size] of one chip on n images, in volts. */
export function chipFeatures(env: CorrectorEnv, chip: Chip, x: Float32Array, n: number, rng: Rng | null, prefix?: Prefix): Float32Array {
  const F = env.layout.size;
  const out = new Float32Array(n * F);
  const s = prefix?.shared;
  let from: SimOptions['from'] = prefix && {
    layer: prefix.layer,
    h: prefix.h,
    product: s ? productOnChip(s, env.plan.layers[0], chip.layers[0], env.plan, env.kernels) : undefined,
  };
  let offset = 0;
  for (const g of env.layout.groups) {
    const h = simulateBatch(env.model, env.plan, chip.layers, env.device, x, n, {
      kernels: env.kernels,
      rng,
      from,
      until: g.until ?? undefined,
    });
    const d = h.data;
    const w = g.size;
    for (let i = 0; i < n; i++) for (let j = 0; j < w; j++) out[i * F + offset + j] = d[i * w + j] * g.volts;
    offset += w;
    from = { layer: g.until ?? 0, h };
  }
  return out;
}

/**
 * Per-chip calibration. `statsImages` unlabelled images give each feature's mean and spread on
 * the chip (the 'stats' normalisation); `calibImages` known images give an affine map, fitted by
 * ridge least squares, from the chip's voltages to the ideal chip's voltages on the same images
 * (the 'calib' normalisation). The probe images are one fixed set of training images per seed,
 * the same for every chip, as a factory calibration set would be.
 */
export interface ProbeConfig {
  statsImages: number;
  calibImages: number;
  /** Prior weight of the identity map, in images. */
  ridge: number;
}

export interface Probes {
  cfg: ProbeConfig;
  n: number;
  x: Float32Array;
  /** Ideal (fault-free, variation-free) chip's features on the probe images. */
  ideal: Float32Array;
}

/** Draws the probe images (at least `atLeast`, for calibration sweeps) and the ideal chip's voltages on them. */
export function makeProbes(env: CorrectorEnv, train: Split, seed: number, cfg: ProbeConfig, atLeast = 0): Probes {
  const n = Math.max(cfg.statsImages, cfg.calibImages, atLeast);
  if (n > train.n) throw new XbarError(`probe images (${n}) exceed the ${train.n} training images: lower --norm-images/--calib-images`);
  if (cfg.calibImages > 0 && !(cfg.ridge > 0)) throw new XbarError('--ridge must be above 0 for per-chip calibration');
  const order = Rng.derive(seed, STREAM_PROBES).permutation(train.n);
  const inSize = env.model.inputSize;
  const x = new Float32Array(n * inSize);
  for (let k = 0; k < n; k++) x.set(train.x.subarray(order[k] * inSize, (order[k] + 1) * inSize), k * inSize);
  const idealDevice = { ...env.device, programSigma: 0, programNoise: undefined, readNoise: 0 };
  const idealEnv = { ...env, device: idealDevice };
  const ideal = n ? chipFeatures(idealEnv, programChip(env.plan, idealDevice, [], seed, 0), x, n, null) : new Float32Array(0);
  return { cfg, n, x, ideal };
}

export interface ChipTransforms {
  mean: Float32Array;
  std: Float32Array;
  /** Per feature group, (D + 1) x D row-major (last row = offset); empty without calibration images. */
  affine: Float32Array[];
}

export type ChipNorm = 'none' | 'stats' | 'calib';
export const CHIP_NORMS: readonly ChipNorm[] = ['none', 'stats', 'calib'];

const STD_FLOOR = 1e-4; // volts: a dead output reads as a constant

export function chipTransforms(
  layout: FeatureLayout,
  probes: Probes,
  feats: Float32Array,
  calibImages = probes.cfg.calibImages,
): ChipTransforms {
  const F = layout.size;
  const m = probes.cfg.statsImages;
  const mean = new Float32Array(F);
  const std = new Float32Array(F).fill(1);
  if (m > 0) {
    const s = new Float64Array(F);
    const s2 = new Float64Array(F);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < F; j++) {
        const v = feats[i * F + j];
        s[j] += v;
        s2[j] += v * v;
      }
    for (let j = 0; j < F; j++) {
      mean[j] = s[j] / m;
      std[j] = Math.max(STD_FLOOR, Math.sqrt(Math.max(0, s2[j] / m - (s[j] / m) ** 2)));
    }
  }
  const affine: Float32Array[] = [];
  if (calibImages > probes.n) throw new XbarError(`${calibImages} calibration images asked, only ${probes.n} probe images drawn`);
  if (calibImages > 0) {
    let offset = 0;
    for (const g of layout.groups) {
      affine.push(fitAffine(feats, probes.ideal, F, offset, g.size, calibImages, probes.cfg.ridge));
      offset += g.size;
    }
  }
  return { mean, std, affine };
}

/**
 * M = argmin sum_i ||[v_i, 1] M - t_i||^2 + lambda ||M_lin - I||^2 over k images, for the D
 * features at `offset`; lambda = ridge x the mean squared voltage of one image (scale-free: a
 * prior worth `ridge` images). Solved by Cholesky in float64; the offset row is not penalised.
 */
function fitAffine(v: Float32Array, t: Float32Array, F: number, offset: number, D: number, k: number, ridge: number): Float32Array {
  const E = D + 1;
  const A = new Float64Array(E * E);
  const B = new Float64Array(E * D);
  const row = new Float64Array(E);
  let trace = 0;
  for (let i = 0; i < k; i++) {
    for (let a = 0; a < D; a++) row[a] = v[i * F + offset + a];
    row[D] = 1;
    for (let a = 0; a < E; a++) {
      const ra = row[a];
      if (a < D) trace += ra * ra;
      for (let b = 0; b <= a; b++) A[a * E + b] += ra * row[b];
      for (let j = 0; j < D; j++) B[a * D + j] += ra * t[i * F + offset + j];
    }
  }
  const lambda = Math.max(ridge * (trace / (k * D)), 1e-18);
  for (let a = 0; a < D; a++) {
    A[a * E + a] += lambda;
    B[a * D + a] += lambda;
  }
  A[D * E + D] += 1e-9 * k;
  // Cholesky A = L L^T (lower triangle of A holds the products).
  const L = new Float64Array(E * E);
  for (let i = 0; i < E; i++)
    for (let j = 0; j <= i; j++) {
      let s = A[i * E + j];
      for (let p = 0; p < j; p++) s -= L[i * E + p] * L[j * E + p];
      L[i * E + j] = i === j ? Math.sqrt(Math.max(s, 1e-300)) : s / L[j * E + j];
    }
  const M = new Float32Array(E * D);
  const y = new Float64Array(E);
  for (let c = 0; c < D; c++) {
    for (let i = 0; i < E; i++) {
      let s = B[i * D + c];
      for (let p = 0; p < i; p++) s -= L[i * E + p] * y[p];
      y[i] = s / L[i * E + i];
    }
    for (let i = E - 1; i >= 0; i--) {
      let s = y[i];
      for (let p = i + 1; p < E; p++) s -= L[p * E + i] * y[p];
      y[i] = s / L[i * E + i];
    }
    for (let i = 0; i < E; i++) M[i * D + c] = y[i];
  }
  return M;
}

/** The features a corrector with normalisation `norm` reads, from a chip's raw voltages [n, F]. */
export function applyChipNorm(norm: ChipNorm, layout: FeatureLayout, t: ChipTransforms, x: Float32Array, n: number): Float32Array {
  const F = layout.size;
  if (norm === 'none') return x;
  const out = new Float32Array(n * F);
  if (norm === 'stats') {
    for (let i = 0; i < n; i++) for (let j = 0; j < F; j++) out[i * F + j] = (x[i * F + j] - t.mean[j]) / t.std[j];
    return out;
  }
  if (t.affine.length !== layout.groups.length)
    throw new XbarError("per-chip calibration needs --calib-images above 0 for 'calib' normalisation");
  let offset = 0;
  layout.groups.forEach((g, gi) => {
    const D = g.size;
    const M = t.affine[gi];
    for (let i = 0; i < n; i++)
      for (let c = 0; c < D; c++) {
        let s = M[D * D + c];
        for (let a = 0; a < D; a++) s += x[i * F + offset + a] * M[a * D + c];
        out[i * F + offset + c] = s;
      }
    offset += D;
  });
  return out;
}

/** Argmax of the output voltages: what the chip itself answers. */
export function chipAnswers(layout: FeatureLayout, x: Float32Array, n: number): Uint8Array {
  const F = layout.size;
  const o = outputOffset(layout);
  const K = F - o;
  const pred = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < K; j++) if (x[i * F + o + j] > x[i * F + o + best]) best = j;
    pred[i] = best;
  }
  return pred;
}

/** One chip of a voltage set, tagged with its defect. */
export interface ChipRecord {
  chip: number;
  type: ChipDefect['type'];
  kind: ChipDefect['kind'];
  layers: number[];
  density: number;
  faults: string;
  /** Its samples are rows start .. start + count - 1. */
  start: number;
  count: number;
  /** Accuracy of the chip's own answers on its samples. */
  uncorrected: number;
  transforms: ChipTransforms;
  probeFeats: Float32Array;
}

/** Output-voltage samples from many chips, each tagged with its chip and defect type. */
export interface VoltageSet {
  layout: FeatureLayout;
  classes: number;
  n: number;
  x: Float32Array;
  y: Uint8Array;
  /** Index into `chips` of each sample. */
  chipOf: Int32Array;
  chips: ChipRecord[];
  probes: Probes;
}

export interface GenerateOptions {
  seed: number;
  firstChip: number;
  chips: number;
  imagesPerChip: number;
}

const BATCH = 1000;

/** A programmed chip with its defect, its voltages on the probe images and its per-chip calibration. */
export interface PreparedChip {
  defect: ChipDefect;
  chip: Chip;
  probeFeats: Float32Array;
  transforms: ChipTransforms;
  /** The calibration with another number of calibration images (at most the probes drawn), memoised. */
  transformsFor(calibImages: number): ChipTransforms;
}

export function prepareChip(
  env: CorrectorEnv,
  pop: Population,
  probes: Probes,
  seed: number,
  index: number,
  faults?: FaultSpec,
): PreparedChip {
  const defect = faults ? customDefect(index, faults, env.nWeighted) : drawDefect(pop, env.nWeighted, seed, index);
  const chip = programChip(env.plan, env.device, defect.spec, seed, index, { kernels: env.kernels });
  const noise = env.device.readNoise > 0 || env.plan.circuit.adcNoise > 0 ? Rng.derive(seed, index, STREAM_PROBES) : null;
  const probeFeats = probes.n ? chipFeatures(env, chip, probes.x, probes.n, noise) : new Float32Array(0);
  const transforms = chipTransforms(env.layout, probes, probeFeats);
  const memo = new Map<number, ChipTransforms>([[probes.cfg.calibImages, transforms]]);
  const transformsFor = (k: number) => {
    let t = memo.get(k);
    if (!t) {
      t = chipTransforms(env.layout, probes, probeFeats, k);
      memo.set(k, t);
    }
    return t;
  };
  return { defect, chip, probeFeats, transforms, transformsFor };
}

/** The same samples with every chip's calibration refitted on `calibImages` probe images. */
export function withCalibImages(set: VoltageSet, calibImages: number): VoltageSet {
  return {
    ...set,
    chips: set.chips.map((c) => ({ ...c, transforms: chipTransforms(set.layout, set.probes, c.probeFeats, calibImages) })),
  };
}

/**
 * Samples for training: chip i (of `seed`) on `imagesPerChip` images drawn from `split` by
 * Rng.derive(seed, i, STREAM_IMAGES). Chips are programmed one at a time and dropped, so the
 * only memory that grows is the samples themselves; chip i's samples are the same whatever
 * range it is generated in.
 */
export function generateVoltageSet(
  env: CorrectorEnv,
  pop: Population,
  probes: Probes,
  split: Split,
  o: GenerateOptions,
  onChip?: (rec: ChipRecord, done: number) => void,
): VoltageSet {
  const F = env.layout.size;
  const per = o.imagesPerChip;
  const n = o.chips * per;
  if (split.n === 0 && n > 0) throw new XbarError('no images to generate corrector samples from: the training split is empty');
  const x = new Float32Array(n * F);
  const y = new Uint8Array(n);
  const chipOf = new Int32Array(n);
  const chips: ChipRecord[] = [];
  const inSize = env.model.inputSize;
  for (let c = 0; c < o.chips; c++) {
    const index = o.firstChip + c;
    const { defect, chip, transforms, probeFeats } = prepareChip(env, pop, probes, o.seed, index);
    const r = Rng.derive(o.seed, index, STREAM_IMAGES);
    const idx = Array.from({ length: per }, () => r.int(split.n));
    let correct = 0;
    for (let s = 0, b = 0; s < per; s += BATCH, b++) {
      const m = Math.min(BATCH, per - s);
      const xb = new Float32Array(m * inSize);
      for (let k = 0; k < m; k++) {
        const i = idx[s + k];
        xb.set(split.x.subarray(i * inSize, (i + 1) * inSize), k * inSize);
        y[c * per + s + k] = split.y[i];
      }
      const noise = env.device.readNoise > 0 || env.plan.circuit.adcNoise > 0 ? Rng.derive(o.seed, index, STREAM_NOISE, b) : null;
      const f = chipFeatures(env, chip, xb, m, noise);
      x.set(f, (c * per + s) * F);
      const ans = chipAnswers(env.layout, f, m);
      for (let k = 0; k < m; k++) if (ans[k] === y[c * per + s + k]) correct++;
    }
    chipOf.fill(c, c * per, (c + 1) * per);
    const rec: ChipRecord = {
      chip: index,
      type: defect.type,
      kind: defect.kind,
      layers: defect.layers,
      density: defect.density,
      faults: defect.text,
      start: c * per,
      count: per,
      uncorrected: per ? correct / per : 0,
      transforms,
      probeFeats,
    };
    chips.push(rec);
    onChip?.(rec, c + 1);
  }
  return { layout: env.layout, classes: env.classes, n, x, y, chipOf, chips, probes };
}

/** Answers for a batch of one chip's features, or null to skip the chip (e.g. a corrector for other defect types). */
export type Predictor = (feats: Float32Array, n: number, chip: PreparedChip) => Uint8Array | null;

export interface HeldOutChip {
  chip: number;
  type: ChipDefect['type'];
  kind: ChipDefect['kind'];
  layers: number[];
  density: number;
  faults: string;
  uncorrected: number;
  /** Accuracy with each predictor, null where it skipped the chip. */
  corrected: (number | null)[];
}

/**
 * Held-out chips on a whole test split, streamed: chips in chunks, images in batches, the
 * fault-free part shared by the chips of a chunk; every predictor answers on the same voltages.
 */
export function evaluateChips(
  env: CorrectorEnv,
  pop: Population,
  probes: Probes,
  test: Split,
  o: { seed: number; firstChip: number; chips: number; chipsPerChunk?: number; faults?: FaultSpec },
  predictors: Predictor[],
  onChip?: (r: HeldOutChip, done: number) => void,
): HeldOutChip[] {
  const chunk = Math.max(1, o.chipsPerChunk ?? 16);
  const inSize = env.model.inputSize;
  const out: HeldOutChip[] = [];
  for (let c0 = 0; c0 < o.chips; c0 += chunk) {
    const prepared = [];
    for (let c = c0; c < Math.min(o.chips, c0 + chunk); c++)
      prepared.push(prepareChip(env, pop, probes, o.seed, o.firstChip + c, o.faults));
    const base = prepared.map(() => 0);
    const hits = prepared.map(() => predictors.map(() => 0 as number | null));
    for (let s = 0, b = 0; s < test.n; s += BATCH, b++) {
      const m = Math.min(BATCH, test.n - s);
      const xb = test.x.subarray(s * inSize, (s + m) * inSize);
      const yb = test.y.subarray(s, s + m);
      const prefix = prepared.length > 1 ? sharedPrefix(env, xb, m) : undefined;
      prepared.forEach((p, k) => {
        const noise = env.device.readNoise > 0 || env.plan.circuit.adcNoise > 0 ? Rng.derive(o.seed, p.chip.index, STREAM_NOISE, b) : null;
        const f = chipFeatures(env, p.chip, xb, m, noise, prefix);
        base[k] += count(chipAnswers(env.layout, f, m), yb);
        predictors.forEach((pred, q) => {
          const a = pred(f, m, p);
          const h = hits[k][q];
          hits[k][q] = a === null || h === null ? null : h + count(a, yb);
        });
      });
    }
    prepared.forEach((p, k) => {
      const r: HeldOutChip = {
        chip: p.chip.index,
        type: p.defect.type,
        kind: p.defect.kind,
        layers: p.defect.layers,
        density: p.defect.density,
        faults: p.defect.text,
        uncorrected: test.n ? base[k] / test.n : 0,
        corrected: hits[k].map((h) => (h === null || !test.n ? null : h / test.n)),
      };
      out.push(r);
      onChip?.(r, out.length);
    });
  }
  return out;
}

function count(pred: Uint8Array, y: Uint8Array): number {
  let c = 0;
  for (let i = 0; i < pred.length; i++) if (pred[i] === y[i]) c++;
  return c;
}
