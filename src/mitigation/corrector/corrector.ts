import { XbarError } from '../../core/errors.js';
import type { Kernels } from '../../core/kernels.js';
import type { Split } from '../../data/dataset.js';
import { Conv2d } from '../../nn/conv.js';
import { Dense } from '../../nn/dense.js';
import { argmaxRows } from '../../nn/loss.js';
import { buildModel, type Model } from '../../nn/model.js';
import type { SequentialSpec } from '../../nn/spec.js';
import { size } from '../../nn/tensor.js';
import { type EpochStats, type TrainHooks, train } from '../../nn/train.js';
import {
  applyChipNorm,
  type ChipNorm,
  type ChipTransforms,
  type FeatureLayout,
  type PreparedChip,
  type VoltageSet,
  withCalibImages,
} from './data.js';

/**
 * The learned output corrector: a small xbar network (dense layers, ReLU) that reads a chip's
 * voltages, after an optional per-chip normalisation, and answers the class. Trained with
 * xbar's own `train` (Adam, softmax cross-entropy) on samples from many simulated chips.
 */
export interface CorrectorShape {
  /** Hidden layer widths; [] = a linear corrector. */
  hidden: number[];
  norm: ChipNorm;
  /** Calibration images per chip for 'calib' (0 otherwise). */
  calibImages: number;
}

export interface CorrectorTraining {
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  /** Share of the training chips (the last ones) kept for validation, by chip. */
  valFraction: number;
}

export interface Corrector extends CorrectorShape {
  model: Model;
  /** Feature layout the corrector reads (which groups, how many values). */
  layout: FeatureLayout;
  classes: number;
}

export const correctorName = (s: CorrectorShape): string =>
  `${s.hidden.length ? `mlp-${s.hidden.join('-')}` : 'linear'}/${s.norm}${s.norm === 'calib' ? `-${s.calibImages}` : ''}`;

export function correctorSpec(features: number, classes: number, hidden: number[]): SequentialSpec {
  const layers: SequentialSpec['layers'] = [{ type: 'flatten' }];
  for (const h of hidden) layers.push({ type: 'dense', units: h }, { type: 'activation', fn: 'relu' });
  layers.push({ type: 'dense', units: classes });
  return { inputShape: [1, 1, features], layers };
}

/** Parameters and multiply-adds per inference of a network (dense and conv layers). */
export function networkCost(model: Model): { parameters: number; macs: number } {
  let macs = 0;
  for (const l of model.layers) {
    if (l instanceof Dense) macs += l.weight.value.length;
    else if (l instanceof Conv2d) macs += l.weight.value.length * (size(l.outShape) / l.outShape[l.outShape.length - 1]);
  }
  return { parameters: model.parameterCount, macs };
}

/** The samples of the chosen chips, with their per-chip normalisation applied. */
export function trainingSplit(set: VoltageSet, norm: ChipNorm, chipIndices: number[]): Split {
  const F = set.layout.size;
  const n = chipIndices.reduce((a, c) => a + set.chips[c].count, 0);
  const x = new Float32Array(n * F);
  const y = new Uint8Array(n);
  let at = 0;
  for (const c of chipIndices) {
    const rec = set.chips[c];
    const src = set.x.subarray(rec.start * F, (rec.start + rec.count) * F);
    x.set(applyChipNorm(norm, set.layout, rec.transforms, src, rec.count), at * F);
    y.set(set.y.subarray(rec.start, rec.start + rec.count), at);
    at += rec.count;
  }
  return { x, y, n };
}

export function checkLayout(a: FeatureLayout, b: FeatureLayout, what: string): void {
  const key = (l: FeatureLayout) => l.groups.map((g) => `${g.name}:${g.size}`).join(',');
  if (key(a) !== key(b))
    throw new XbarError(
      `${what}: the corrector reads ${key(a)} but the chips give ${key(b)}: use the model and --hidden-voltages the corrector was trained with`,
    );
}

export interface TrainedCorrector {
  corrector: Corrector;
  history: EpochStats[];
  trainChips: number;
  valChips: number;
  samples: number;
}

/**
 * Trains a corrector on the samples of `chipIndices` (indices into set.chips; default all). The
 * global standardisation of the features is folded into the first layer afterwards, so the saved
 * corrector is a plain network on (normalised) volts.
 */
export function trainCorrector(
  set: VoltageSet,
  shape: CorrectorShape,
  cfg: CorrectorTraining,
  kernels: Kernels,
  chipIndices: number[] = set.chips.map((_, i) => i),
  hooks: TrainHooks = {},
): TrainedCorrector {
  if (set.n === 0 || chipIndices.length === 0 || chipIndices.every((c) => set.chips[c].count === 0))
    throw new XbarError('the corrector training set is empty: generate samples from at least one chip (--train-chips, --images-per-chip)');
  if (set.x.length !== set.n * set.layout.size || set.y.length !== set.n)
    throw new XbarError(
      `the corrector training set is inconsistent: ${set.x.length} feature values and ${set.y.length} labels for ${set.n} samples of ${set.layout.size} features`,
    );
  for (const h of shape.hidden)
    if (!Number.isInteger(h) || h < 1) throw new XbarError(`corrector hidden width ${h} is not a positive whole number`);
  for (let i = 0; i < set.n; i++)
    if (set.y[i] >= set.classes) throw new XbarError(`sample ${i} has class ${set.y[i]}, but the corrector has ${set.classes} outputs`);
  if (shape.norm === 'calib' && !(shape.calibImages > 0)) throw new XbarError("'calib' normalisation needs --calib-images above 0");
  const samples =
    shape.norm === 'calib' && shape.calibImages !== set.probes.cfg.calibImages ? withCalibImages(set, shape.calibImages) : set;
  const nVal = cfg.valFraction > 0 && chipIndices.length > 1 ? Math.max(1, Math.round(cfg.valFraction * chipIndices.length)) : 0;
  const trainIdx = chipIndices.slice(0, chipIndices.length - nVal);
  const valIdx = chipIndices.slice(chipIndices.length - nVal);
  const data = trainingSplit(samples, shape.norm, trainIdx);
  const val = nVal ? trainingSplit(samples, shape.norm, valIdx) : null;
  const F = set.layout.size;
  const { mean, std } = columnStats(data.x, data.n, F);
  standardize(data.x, mean, std);
  if (val) standardize(val.x, mean, std);
  const model = buildModel(correctorSpec(F, set.classes, shape.hidden), cfg.seed);
  const history = train(
    model,
    data,
    val,
    { epochs: cfg.epochs, batchSize: cfg.batchSize, optimizer: { name: 'adam', lr: cfg.lr }, schedule: 'cosine', seed: cfg.seed + 1 },
    kernels,
    hooks,
  );
  foldStandardization(model, mean, std);
  return {
    corrector: {
      hidden: [...shape.hidden],
      norm: shape.norm,
      calibImages: shape.norm === 'calib' ? shape.calibImages : 0,
      model,
      layout: set.layout,
      classes: set.classes,
    },
    history,
    trainChips: trainIdx.length,
    valChips: nVal,
    samples: data.n,
  };
}

function columnStats(x: Float32Array, n: number, F: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(F);
  const sq = new Float64Array(F);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < F; j++) {
      const v = x[i * F + j];
      mean[j] += v;
      sq[j] += v * v;
    }
  const std = new Float64Array(F);
  for (let j = 0; j < F; j++) {
    mean[j] /= n;
    const s = Math.sqrt(Math.max(0, sq[j] / n - mean[j] ** 2));
    std[j] = s > 1e-12 ? s : 1;
  }
  return { mean, std };
}

function standardize(x: Float32Array, mean: Float64Array, std: Float64Array): void {
  const F = mean.length;
  for (let i = 0; i < x.length; i++) {
    const j = i % F;
    x[i] = (x[i] - mean[j]) / std[j];
  }
}

/** (x - mean) / std then W, b  ==  x (W / std) + (b - sum_i mean_i W_i / std_i). */
function foldStandardization(model: Model, mean: Float64Array, std: Float64Array): void {
  const first = model.layers.find((l) => l instanceof Dense) as Dense;
  const [nIn, nOut] = first.weight.shape;
  const W = first.weight.value;
  const b = first.bias.value;
  for (let j = 0; j < nOut; j++) {
    let shift = 0;
    for (let i = 0; i < nIn; i++) {
      const w = W[i * nOut + j] / std[i];
      W[i * nOut + j] = w;
      shift += mean[i] * w;
    }
    b[j] -= shift;
  }
}

/** The corrector's answers for n samples of one chip's raw voltages. */
export function correctChip(c: Corrector, x: Float32Array, n: number, chip: PreparedChip | ChipTransforms, kernels: Kernels): Uint8Array {
  const t = 'transformsFor' in chip ? (c.norm === 'calib' ? chip.transformsFor(c.calibImages) : chip.transforms) : chip;
  if (x.length !== n * c.layout.size)
    throw new XbarError(`the corrector reads ${c.layout.size} voltages per sample, the data has ${n ? x.length / n : 0}`);
  const f = applyChipNorm(c.norm, c.layout, t, x, n);
  return argmaxRows(c.model.predict(f, n, kernels), c.classes);
}
