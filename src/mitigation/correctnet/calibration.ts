import { XbarError } from '../../core/errors.js';
import type { Kernels } from '../../core/kernels.js';
import { programChip } from '../../crossbar/chip.js';
import type { Circuit } from '../../crossbar/circuit.js';
import { runMonteCarlo } from '../../crossbar/montecarlo.js';
import { type CrossbarPlan, planCrossbars } from '../../crossbar/plan.js';
import type { Split } from '../../data/dataset.js';
import type { Device } from '../../device/config.js';
import type { FaultSpec } from '../../faults/spec.js';
import { Compensation } from '../../nn/compensation.js';
import { buildModel, Model, setWeights } from '../../nn/model.js';
import { isGraphSpec, type SequentialSpec } from '../../nn/spec.js';
import { type EpochStats, evaluate, train } from '../../nn/train.js';
import { Rails, WeightNoise, weightedLayers } from '../noise.js';
import { drawDefect, type Population } from '../population.js';
import { type CompensationSite, networkCost, siteCost, withCompensation, withoutCompensation } from './compensation.js';
import {
  type Calibration,
  type LayerSensitivity,
  mean,
  placementProblem,
  softwareChipAccuracy,
  weightedOutputShapes,
} from './correctnet.js';
import type { PlacementProblem } from './placement.js';

/**
 * Per-chip calibration of the digital compensation modules: after a chip is programmed, its
 * (frozen, varied) weights are measured through a few labelled images and only the modules are
 * fine-tuned for that chip, as deployments calibrate digital layers after programming. The
 * chip-independent modules of trainCompensation learn one correction for all chips; these learn
 * the correction of one chip.
 *
 * The chip's neurons are calibrated too: each weighted layer's rail (where the neuron saturates)
 * is set to the simulator's headroom x the largest activation measured *on the chip* over the
 * rail-calibration images, instead of on the clean network. Modules trained for one chip change
 * the clean network's activations, so rails taken from the clean network clip the chip's
 * (mlp, sigma 1.2: 60% with clean-network rails against 89% with the chip's own, 3 chips);
 * rails measured on the chip alone, without modules, do not help (plain mlp: 15.5% against 14.8%).
 */
export interface ChipCalibrationConfig {
  /** The chip: draw `chip` of `seed` is simulator chip `chip` of `seed` (WeightNoise, programChip). */
  device: Device;
  seed: number;
  chip: number;
  scaling?: 'layer' | 'column';
  epochs: number;
  batchSize: number;
  lr: number;
  /** Shuffling of the calibration images. */
  trainSeed: number;
  /** Images the rails are measured on (the simulator's calibration images). */
  rails: Calibration;
  /**
   * What the modules fit: 'ce' the labels (cross-entropy), 'kd' the clean network's outputs on
   * the same images (distillation at temperature DISTILL_TEMPERATURE; the labels are not used).
   */
  loss?: CalibrationLoss;
  /**
   * Stuck cells on the chip: a fixed spec for every chip, or chip c's defect drawn from a
   * population (drawDefect(population, ., seed, c), as the corrector's chips). The chip is then
   * programmed as the simulator programs it (programChip on `circuit`'s arrays) and its effective
   * weights, variation and stuck cells together, are what the modules are fitted through. Without
   * it, variation only (WeightNoise: the same draws as programChip without faults).
   */
  faults?: ChipFaults;
}

export interface ChipFaults {
  circuit: Circuit;
  spec?: FaultSpec;
  population?: Population;
}

export type CalibrationLoss = 'ce' | 'kd';
export const calibrationLosses: readonly CalibrationLoss[] = ['ce', 'kd'];
/** Hinton et al.'s usual temperature; 2 on a vgg-small chip gave 80.3% against 77.1% with labels. */
export const DISTILL_TEMPERATURE = 2;

export interface ChipCalibration {
  chip: number;
  /** Rail per weighted layer, measured on the chip with its calibrated modules. */
  rails: number[];
  history: EpochStats[];
  seconds: number;
}

/**
 * Fine-tunes `model`'s compensation modules (in place) on `data` measured through one chip, with
 * the rest of the network frozen at the chip's weights, and measures the chip's rails. The
 * model's own weights are left clean. Training does not go through the rails (clipped units
 * pass no gradient); the rails are measured after training, with the trained modules. The frozen
 * network's dropout stays off: it regularised that network's training, and here it would only
 * blur the chip the modules are fitted to (vgg-small, sigma 1, one chip, 5000 images: 68.9% with
 * it, 77.0% without; docs/correctnet.md).
 */
export function calibrateChip(model: Model, data: Split, cfg: ChipCalibrationConfig, kernels: Kernels): ChipCalibration {
  const t0 = performance.now();
  const trainable = model.layers.filter((l) => l instanceof Compensation).flatMap((l) => l.params.map((p) => p.name));
  if (!trainable.length) throw new XbarError('the model has no compensation modules to calibrate');
  if (!(data.n > 0)) throw new XbarError('per-chip calibration needs at least one image');
  // The teacher is the clean network without modules, run before the chip's weights go in.
  const teacher = cfg.loss === 'kd' ? withoutCompensation(model).predict(data.x, data.n, kernels) : null;
  const chip = onChip(model, cfg, kernels);
  const rails = new Rails(model);
  chip.apply();
  try {
    // The frozen layers before the first module see the same images with the same (chip) weights
    // every epoch: their outputs are computed once and the rest of the network trains on them.
    const cached = frozenPrefix(model, new Set(trainable), data, kernels);
    const history = train(
      cached?.suffix ?? model,
      cached?.data ?? data,
      null,
      {
        epochs: cfg.epochs,
        batchSize: cfg.batchSize,
        optimizer: { name: 'adam', lr: cfg.lr },
        schedule: 'cosine',
        seed: cfg.trainSeed,
        trainable,
        dropout: false,
        ...(teacher && { distill: { teacher, temperature: DISTILL_TEMPERATURE } }),
      },
      kernels,
    );
    rails.calibrate(cfg.rails.x, cfg.rails.n, kernels);
    return { chip: cfg.chip, rails: rails.rails, history, seconds: (performance.now() - t0) / 1000 };
  } finally {
    chip.restore();
  }
}

/** Above this many bytes of cached prefix outputs the prefix is recomputed every step instead. */
export const PREFIX_CACHE_BYTES = 512 * 2 ** 20;

/**
 * The layers of a sequential `model` before the first one with a trained parameter, run once on
 * `data`: the rest of the model as a Model of its own (sharing its layers) and the prefix's
 * outputs as its data. Exact: in calibration no frozen layer depends on the batch (dropout is off,
 * a frozen batch norm uses its running statistics), so each image's features are what the full
 * forward pass computes for it. Null when no weighted layer precedes the first trained one, for
 * graph models, and when the features would take more than PREFIX_CACHE_BYTES.
 */
export function frozenPrefix(
  model: Model,
  trainable: ReadonlySet<string>,
  data: Split,
  kernels: Kernels,
): { suffix: Model; data: Split } | null {
  if (model.graph || isGraphSpec(model.spec)) return null;
  const first = model.layers.findIndex((l) => l.params.some((p) => trainable.has(p.name)));
  // Nothing worth caching before it (no layer, or only reshapes and the like without weights).
  if (first <= 0 || !model.layers.slice(0, first).some((l) => l.params.length)) return null;
  const outShape = model.layers[first - 1].outShape;
  const features = outShape.reduce((a, b) => a * b, 1);
  if (features * data.n * 4 > PREFIX_CACHE_BYTES) return null;
  const spec = model.spec as SequentialSpec;
  const prefix = new Model({ ...spec, layers: spec.layers.slice(0, first) }, model.layers.slice(0, first));
  // Never saved nor validated: its input shape is the prefix's output shape as is (a dense layer's
  // [n] too), so that its first layer sees exactly the tensors the full forward pass gives it.
  const inputShape = outShape as SequentialSpec['inputShape'];
  const suffix = new Model({ ...spec, inputShape, layers: spec.layers.slice(first) }, model.layers.slice(first));
  return { suffix, data: { ...data, x: prefix.predict(data.x, data.n, kernels) } };
}

/** Chip `cfg.chip`'s stuck cells (none without cfg.faults). */
export function chipFaultSpec(cfg: Pick<ChipCalibrationConfig, 'faults' | 'seed' | 'chip'>, nWeighted: number): FaultSpec {
  const f = cfg.faults;
  if (!f) return [];
  if (f.spec) return f.spec;
  if (f.population) return drawDefect(f.population, nWeighted, cfg.seed, cfg.chip).spec;
  throw new XbarError('chip faults need a spec or a population');
}

/**
 * Puts chip `cfg.chip`'s effective weights into `model`'s weighted layers (apply) and the clean
 * ones back (restore). Variation only: WeightNoise. With stuck cells: the chip as programChip
 * programs it, read back as weights (LayerChip.wEff, [W; bias]).
 */
function onChip(
  model: Model,
  cfg: Pick<ChipCalibrationConfig, 'device' | 'seed' | 'scaling' | 'chip' | 'faults'> & { rails?: Calibration },
  kernels: Kernels,
): { apply(): void; restore(): void } {
  if (!cfg.faults) {
    const noise = new WeightNoise(model, { device: cfg.device, scaling: cfg.scaling, seed: cfg.seed, readNoise: 0, kernels });
    return { apply: () => noise.apply(cfg.chip), restore: () => noise.restore() };
  }
  const faults = cfg.faults;
  const calib = cfg.rails;
  // The plan's voltage ranges do not change the weights a chip computes, but planCrossbars needs images.
  if (!calib) throw new XbarError('a chip with stuck cells needs calibration images (rails) to plan its arrays');
  const layers = weightedLayers(model);
  const saved = layers.map((l) => ({ weight: Float32Array.from(l.weight.value), bias: Float32Array.from(l.bias.value) }));
  return {
    apply() {
      const circuit = { ...faults.circuit, scaling: cfg.scaling ?? faults.circuit.scaling };
      const plan = planCrossbars(model, circuit, calib.x, calib.n, kernels);
      const chip = programChip(plan, cfg.device, chipFaultSpec(cfg, layers.length), cfg.seed, cfg.chip);
      layers.forEach((l, k) => {
        const w = chip.layers[k].wEff;
        const nW = l.weight.value.length;
        l.weight.value.set(w.subarray(0, nW));
        l.bias.value.set(w.subarray(nW, nW + l.bias.value.length));
      });
    },
    restore() {
      layers.forEach((l, k) => {
        l.weight.value.set(saved[k].weight);
        l.bias.value.set(saved[k].bias);
      });
    },
  };
}

/** `plan` (planCrossbars of the calibrated model) with the chip's measured rails. */
export function withChipRails(plan: CrossbarPlan, rails: number[]): CrossbarPlan {
  if (rails.length !== plan.layers.length)
    throw new XbarError(`${rails.length} rails for ${plan.layers.length} weighted layers: calibrate with the same model`);
  return { ...plan, layers: plan.layers.map((l, k) => ({ ...l, rail: rails[k] })) };
}

/** One chip of a calibrated column: its test accuracy in the crossbar simulator and the time spent. */
export interface CalibratedChipResult {
  chip: number;
  accuracy: number;
  calSeconds: number;
  simSeconds: number;
}

/**
 * Calibrates `model`'s modules for chip `cfg.chip` (calibrateChip, in place) and runs that chip
 * (the simulator's chip of the same seed and index) on `test` with its modules and measured rails.
 */
export function calibrateAndSimulate(
  model: Model,
  data: Split,
  cfg: ChipCalibrationConfig,
  circuit: Circuit,
  test: Split,
  kernels: Kernels,
): CalibratedChipResult {
  const cal = calibrateChip(model, data, cfg, kernels);
  const plan = withChipRails(planCrossbars(model, circuit, cfg.rails.x, cfg.rails.n, kernels), cal.rails);
  const faults = chipFaultSpec(cfg, plan.layers.length);
  const r = runMonteCarlo(model, plan, cfg.device, faults, test, { chips: 1, seed: cfg.seed, firstChip: cfg.chip }, kernels);
  return { chip: cfg.chip, accuracy: r.chips[0].accuracy, calSeconds: cal.seconds, simSeconds: r.seconds };
}

/**
 * Calibrates `model`'s modules for chip `cfg.chip` (calibrateChip, in place) and measures the
 * chip in software (calibratedChipAccuracy) on `val`: the placement search's cheaper measurement.
 */
export function calibrateAndMeasure(
  model: Model,
  data: Split,
  cfg: ChipCalibrationConfig,
  val: Split,
  kernels: Kernels,
): CalibratedChipResult {
  const cal = calibrateChip(model, data, cfg, kernels);
  const t0 = performance.now();
  const accuracy = calibratedChipAccuracy(model, val, cal, cfg, kernels);
  return { chip: cfg.chip, accuracy, calSeconds: cal.seconds, simSeconds: (performance.now() - t0) / 1000 };
}

/** Chip c of a column or search: `cfg` with chip = c and its own shuffling, trainSeed + c. */
export function chipConfig(cfg: Omit<ChipCalibrationConfig, 'chip'>, c: number): ChipCalibrationConfig {
  return { ...cfg, chip: c, trainSeed: cfg.trainSeed + c };
}

/**
 * Runs calibrateAndMeasure for `chips`, chip c with trainSeed = cfg.trainSeed + c, each from
 * `model`'s weights; in order of `chips`. The default is the serial loop; calibration-node.ts has
 * one over worker threads with the same results.
 */
export type CalibratedChipsRunner = (
  model: Model,
  data: Split,
  cfg: Omit<ChipCalibrationConfig, 'chip'>,
  val: Split,
  chips: number[],
) => CalibratedChipResult[] | Promise<CalibratedChipResult[]>;

export function calibrateChipsSerial(kernels: Kernels): CalibratedChipsRunner {
  return (model, data, cfg, val, chips) =>
    chips.map((c) => {
      const m = setWeights(
        buildModel(model.spec, 0),
        model.params.map((p) => p.value),
      );
      return calibrateAndMeasure(m, data, chipConfig(cfg, c), val, kernels);
    });
}

/**
 * Accuracy of a calibrated chip in software (the chip's weights, its measured rails): equals
 * the simulator's chip with withChipRails in the default circuit (tested).
 */
export function calibratedChipAccuracy(
  model: Model,
  data: Split,
  cal: ChipCalibration,
  cfg: Pick<ChipCalibrationConfig, 'device' | 'seed' | 'scaling' | 'faults'> & { rails?: Calibration },
  kernels: Kernels,
): number {
  const chip = onChip(model, { ...cfg, chip: cal.chip }, kernels);
  const rails = new Rails(model);
  rails.setRails(cal.rails);
  chip.apply();
  try {
    return evaluate(rails.model, data, kernels).accuracy;
  } finally {
    chip.restore();
  }
}

/**
 * Sites for per-chip calibration: a module after every weighted layer (compensation is cheap to
 * calibrate everywhere, and each chip's errors arise in every layer), each as large as the budget
 * allows: every site starts as a per-channel affine (rank 0), then, from the cheapest site to the
 * dearest, each gets the largest of `ranks` that keeps the total within `budget` (a share of the
 * network's parameters). For the mlp with ranks 4,16 and 5%: ranks 4, 16, 16, 16 (4.1%).
 */
export function calibrationSites(base: Model, ranks: number[], kernel: number, budget: number): CompensationSite[] {
  const shapes = weightedOutputShapes(base);
  const total = networkCost(base).params;
  const site = (layer: number, rank: number): CompensationSite => ({ layer, rank, kernel: shapes[layer].length === 3 ? kernel : 1 });
  const sites = shapes.map((_, k) => site(k, 0));
  const cost = (s: CompensationSite) => siteCost(base, s).params;
  let used = sites.reduce((a, s) => a + cost(s), 0);
  if (used > budget * total)
    throw new XbarError(
      `per-channel modules after every layer already cost ${((100 * used) / total).toFixed(2)}% of the parameters, over the budget ${(100 * budget).toFixed(2)}%`,
    );
  const larger = [...new Set(ranks)].filter((r) => r > 0).sort((a, b) => b - a);
  const order = shapes.map((_, k) => k).sort((a, b) => cost(site(a, larger[0] ?? 0)) - cost(site(b, larger[0] ?? 0)));
  for (const k of order)
    for (const r of larger) {
      const extra = cost(site(k, r)) - cost(sites[k]);
      if (used + extra <= budget * total) {
        sites[k] = site(k, r);
        used += extra;
        break;
      }
    }
  return sites;
}

/** A placement search for per-chip calibrated modules (calibrationPlacementProblem). */
export interface CalibrationSearchSetup {
  base: Model;
  /** Module sizes the agent can choose at each site (0 = per-channel affine); action 0 = no module. */
  ranks: number[];
  kernel: number;
  budget: number;
  overheadWeight: number;
  /** A module's overhead as a share of the network when not its parameters (see PlacementSetup.overhead). */
  overhead?: (site: CompensationSite) => number;
  /** Per-layer sensitivity (a state feature of each site). */
  sensitivity: LayerSensitivity[];
  /** Labelled images each search chip is calibrated on (fewer than the final calibration's keep a search short). */
  data: Split;
  /** Validation images the reward is measured on (never the test set). */
  val: Split;
  device: Device;
  /** Search chips: draws 0..chips-1 of `seed`, the same for every configuration. */
  chips: number;
  seed: number;
  epochs: number;
  batchSize: number;
  lr: number;
  rails: Calibration;
  loss?: CalibrationLoss;
}

/**
 * Where per-chip calibrated modules go, as a placement problem for the same searches (RL, greedy,
 * exhaustive) as the chip-independent modules: a configuration's accuracy is the mean over the
 * search chips of each chip calibrated (its modules fine-tuned on `data` through it, its rails
 * measured on it) and then run on the validation images. No modules: the chips with the
 * simulator's rails.
 */
export function calibrationPlacementProblem(
  s: CalibrationSearchSetup,
  kernels: Kernels,
  onEvaluate?: (config: number[], accuracy: number, seconds: number) => void,
  runChips: CalibratedChipsRunner = calibrateChipsSerial(kernels),
): PlacementProblem {
  const cfg = {
    device: s.device,
    seed: s.seed,
    epochs: s.epochs,
    batchSize: s.batchSize,
    lr: s.lr,
    trainSeed: s.seed + 2,
    rails: s.rails,
    loss: s.loss,
  };
  const chips = Array.from({ length: s.chips }, (_, c) => c);
  return placementProblem(
    s,
    async (sites) => {
      if (!sites.length) return mean(softwareChipAccuracy(s.base, s.val, s.device, s.chips, s.seed, kernels, { calib: s.rails }));
      const results = await runChips(withCompensation(s.base, sites, s.seed + 1), s.data, cfg, s.val, chips);
      return mean(results.map((r) => r.accuracy));
    },
    onEvaluate,
  );
}
