import { checkSplit, finiteNumber, seedArg, wholeNumber } from '../core/check-args.js';
import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { Rng } from '../core/rng.js';
import type { Split } from '../data/dataset.js';
import type { Context } from './layer.js';
import { distillation, softmaxCrossEntropy } from './loss.js';
import type { Model } from './model.js';
import { makeOptimizer, type OptimizerConfig } from './optim.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  optimizer: OptimizerConfig;
  /** 'cosine' anneals the learning rate to 0 over the run; 'constant' keeps it. */
  schedule: 'cosine' | 'constant';
  /** Shuffling and dropout; the initial weights have their own seed (buildModel). */
  seed: number;
  /** Names of the parameters the optimizer updates; the others stay fixed (default: all). */
  trainable?: string[];
  /**
   * false: dropout layers stay off. For fine-tuning small modules on a frozen network (per-chip
   * calibration): the network then runs as it will be deployed, and the modules fit that.
   */
  dropout?: boolean;
  /**
   * Distil instead of fitting the labels: the loss is `distillation` against these teacher logits
   * ([data.n, classes], row i for image i) at this temperature.
   */
  distill?: { teacher: Float32Array; temperature: number };
}

export interface EpochStats {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  valAccuracy?: number;
  valLoss?: number;
  lr: number;
  seconds: number;
  /** Mean regulariser penalty per step, when an afterBackward hook reports one. */
  penalty?: number;
}

export interface TrainHooks {
  onEpochStart?: (epoch: number, steps: number) => void;
  onBatch?: (done: number, total: number, loss: number) => void;
  onEpoch?: (stats: EpochStats) => void;
  /** Before each step's forward pass, e.g. to perturb the weights (noise-injection training). */
  beforeForward?: (step: number) => void;
  /**
   * After each step's backward pass, before the optimizer: e.g. restore perturbed weights, or add
   * a regulariser's gradient to the parameters' grads. A returned number is the penalty added to
   * the loss (logged in EpochStats.penalty).
   */
  afterBackward?: (step: number) => number | undefined;
}

/** Mini-batch training with softmax cross-entropy; returns per-epoch statistics. */
export function train(
  model: Model,
  data: Split,
  val: Split | null,
  cfg: TrainConfig,
  kernels: Kernels,
  hooks: TrainHooks = {},
): EpochStats[] {
  checkSplit(data, model.inputSize, model.outputSize, 'training data');
  if (val) checkSplit(val, model.inputSize, model.outputSize, 'validation data', { allowEmpty: true });
  wholeNumber(cfg.epochs, 'epochs', 0);
  wholeNumber(cfg.batchSize, 'batchSize', 1);
  seedArg(cfg.seed);
  finiteNumber(cfg.optimizer?.lr, 'optimizer.lr', 0);
  if (cfg.schedule !== 'cosine' && cfg.schedule !== 'constant')
    throw new XbarError(`schedule must be 'cosine' or 'constant', not ${String(cfg.schedule)}`);
  const rng = new Rng(cfg.seed);
  const opt = makeOptimizer(cfg.optimizer, kernels);
  const inSize = model.inputSize;
  const steps = Math.ceil(data.n / cfg.batchSize);
  const totalSteps = steps * cfg.epochs;
  const history: EpochStats[] = [];
  const trainable = cfg.trainable ? new Set(cfg.trainable) : null;
  // Buffers (batch norm's running statistics) are saved with the weights but never stepped.
  const params = model.params.filter((p) => !p.buffer && (!trainable || trainable.has(p.name)));
  if (trainable && params.length !== trainable.size)
    throw new XbarError(`trainable parameters ${cfg.trainable?.join(', ')} are not all in the model: check the names`);
  const k = model.outputSize;
  const distill = cfg.distill;
  if (distill && distill.teacher.length !== data.n * k)
    throw new XbarError(`distillation needs ${k} teacher logits for each of the ${data.n} images, got ${distill.teacher.length}`);
  // The teacher's rows of the current batch, gathered like the images.
  const teacherBatch = distill && { ...distill, rows: new Float32Array(cfg.batchSize * k) };
  const ctx: Context = {
    kernels,
    training: true,
    rng,
    ...(trainable && { trainable: new Set(params) }),
    ...(cfg.dropout === false && { dropout: false }),
  };
  let step = 0;
  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    hooks.onEpochStart?.(epoch, steps);
    const t0 = performance.now();
    const order = rng.permutation(data.n);
    let lossSum = 0;
    let correct = 0;
    let penaltySum = 0;
    let penalties = 0;
    let lr = cfg.optimizer.lr;
    for (let s = 0; s < steps; s++, step++) {
      const start = s * cfg.batchSize;
      const b = Math.min(cfg.batchSize, data.n - start);
      const xb = new Float32Array(b * inSize);
      const yb = new Uint8Array(b);
      for (let i = 0; i < b; i++) {
        const idx = order[start + i];
        xb.set(data.x.subarray(idx * inSize, (idx + 1) * inSize), i * inSize);
        yb[i] = data.y[idx];
        if (teacherBatch) teacherBatch.rows.set(teacherBatch.teacher.subarray(idx * k, (idx + 1) * k), i * k);
      }
      lr = cfg.schedule === 'cosine' ? 0.5 * cfg.optimizer.lr * (1 + Math.cos((Math.PI * step) / totalSteps)) : cfg.optimizer.lr;
      model.zeroGrad();
      hooks.beforeForward?.(step);
      const logits = model.forward({ data: xb, shape: [b, inSize] }, ctx);
      const r = teacherBatch
        ? distillation(logits, teacherBatch.rows.subarray(0, b * k), teacherBatch.temperature, yb)
        : softmaxCrossEntropy(logits, yb);
      model.backward(r.grad, ctx);
      const penalty = hooks.afterBackward?.(step);
      if (penalty !== undefined) {
        penaltySum += penalty;
        penalties++;
      }
      opt.step(params, lr);
      lossSum += r.loss * b;
      correct += r.correct;
      hooks.onBatch?.(s + 1, steps, r.loss);
    }
    const stats: EpochStats = {
      epoch,
      loss: lossSum / data.n,
      trainAccuracy: correct / data.n,
      lr,
      seconds: (performance.now() - t0) / 1000,
    };
    if (penalties > 0) stats.penalty = penaltySum / penalties;
    if (val && val.n > 0) {
      const e = evaluate(model, val, kernels);
      stats.valAccuracy = e.accuracy;
      stats.valLoss = e.loss;
    }
    history.push(stats);
    hooks.onEpoch?.(stats);
  }
  return history;
}

/** Accuracy and mean loss of the model on a split, in bounded-memory batches. */
export function evaluate(model: Model, split: Split, kernels: Kernels, batchSize = 1000): { accuracy: number; loss: number } {
  checkSplit(split, model.inputSize, model.outputSize, 'evaluation data', { allowEmpty: true });
  wholeNumber(batchSize, 'batchSize', 1);
  const ctx: Context = { kernels, training: false };
  const inSize = model.inputSize;
  let correct = 0;
  let loss = 0;
  for (let s = 0; s < split.n; s += batchSize) {
    const b = Math.min(batchSize, split.n - s);
    const logits = model.forward({ data: split.x.subarray(s * inSize, (s + b) * inSize), shape: [b, inSize] }, ctx);
    const r = softmaxCrossEntropy(logits, split.y.subarray(s, s + b));
    correct += r.correct;
    loss += r.loss * b;
  }
  return { accuracy: split.n ? correct / split.n : 0, loss: split.n ? loss / split.n : 0 };
}
