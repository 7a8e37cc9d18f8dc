import type { Kernels } from '../../core/kernels.js';
import type { Split } from '../../data/dataset.js';
import type { Device } from '../../device/config.js';
import { Activation } from '../../nn/activation.js';
import { Conv2d } from '../../nn/conv.js';
import { Dense } from '../../nn/dense.js';
import { gather, graphOf, type NodeValues, release, runNode, slot } from '../../nn/graph.js';
import type { Context } from '../../nn/layer.js';
import type { Model } from '../../nn/model.js';
import type { Tensor } from '../../nn/tensor.js';
import { evaluate } from '../../nn/train.js';
import { Rails, WeightNoise } from '../noise.js';
import { type CompensationSite, networkCost, siteCost, trainCompensation, withCompensation } from './compensation.js';
import type { PlacementProblem } from './placement.js';

/**
 * Measurements behind CorrectNet's two steps: how much accuracy a model keeps over simulated
 * chips (in software, with the simulator's variation model), how sensitive each layer is, and
 * how much each layer amplifies the errors that reach it.
 */

/** The first n samples of a split (a view, no copy). */
export function head(split: Split, n: number): Split {
  const k = Math.min(n, split.n);
  const inSize = split.x.length / Math.max(1, split.n);
  return { ...split, n: k, x: split.x.subarray(0, k * inSize), y: split.y.subarray(0, k) };
}

/** Calibration images for the rails (the simulator uses the first 1000 training images). */
export interface Calibration {
  x: Float32Array;
  n: number;
}

/**
 * Accuracy of `model` on `data` for chips 0..chips-1 of `seed`, each chip's weights drawn by
 * WeightNoise (the simulator's mapping and log-normal variation), and with `calib` the neurons'
 * rails calibrated as the simulator does: then each chip is the simulator's chip of the same
 * seed and index in the default circuit (ideal converters and wires), without read noise.
 * `layers` restricts the variation to some weighted layers. Fast enough for the inner loop of a
 * placement search; the final tables run the crossbar simulator itself.
 */
export function softwareChipAccuracy(
  model: Model,
  data: Split,
  device: Device,
  chips: number,
  seed: number,
  kernels: Kernels,
  opts: { layers?: number[]; calib?: Calibration } = {},
): number[] {
  const noise = new WeightNoise(model, { device, seed, layers: opts.layers, readNoise: 0, kernels });
  let run = model;
  if (opts.calib) {
    const rails = new Rails(model);
    rails.calibrate(opts.calib.x, opts.calib.n, kernels);
    run = rails.model;
  }
  const acc: number[] = [];
  for (let c = 0; c < chips; c++) {
    noise.apply(c);
    try {
      acc.push(evaluate(run, data, kernels).accuracy);
    } finally {
      noise.restore();
    }
  }
  return acc;
}

export const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

export interface LayerSensitivity {
  layer: number;
  /** Mean accuracy when only this layer varies. */
  accuracy: number;
  /** Clean accuracy minus that. */
  drop: number;
}

/** Accuracy drop when only one weighted layer at a time has variation: CorrectNet's sensitivity. */
export function layerSensitivity(
  model: Model,
  data: Split,
  device: Device,
  chips: number,
  seed: number,
  kernels: Kernels,
  calib?: Calibration,
): LayerSensitivity[] {
  const clean = evaluate(model, data, kernels).accuracy;
  const n = model.layers.filter((l) => l instanceof Dense || l instanceof Conv2d).length;
  return Array.from({ length: n }, (_, k) => {
    const accuracy = mean(softwareChipAccuracy(model, data, device, chips, seed, kernels, { layers: [k], calib }));
    return { layer: k, accuracy, drop: clean - accuracy };
  });
}

export interface LayerAmplification {
  layer: number;
  /**
   * ||f(x') - f(x)|| / ||x' - x||: how much the (ideal) layer with its activation amplifies the
   * error x' - x that reaches it from the varied layers before it (null for the first layer).
   */
  amplification: number | null;
  /** The same in relative terms: (||f(x') - f(x)|| / ||f(x)||) / (||x' - x|| / ||x||). */
  relativeAmplification: number | null;
  /** Relative error the layer's own variation adds: ||f~(x) - f(x)|| / ||f(x)||. */
  ownError: number;
  /** Relative error of the layer's output in the fully varied network: ||h' - h|| / ||h||. */
  outputError: number;
}

interface Captured {
  /** Input to each weighted layer and output after its activation. */
  inputs: Tensor[];
  outputs: Tensor[];
}

/**
 * Index in model.layers of each weighted layer, the activation its neuron applies (the layer that
 * alone reads it, when an activation: plan.ts's rule) and the index of the neuron's output.
 */
function weightedPositions(model: Model): { index: number; act: Activation | null; out: number }[] {
  const graph = graphOf(model);
  const out: { index: number; act: Activation | null; out: number }[] = [];
  model.layers.forEach((l, index) => {
    if (l instanceof Dense || l instanceof Conv2d) {
      const readers = graph.consumers[index];
      const next = readers.length === 1 ? model.layers[readers[0]] : undefined;
      const act = next instanceof Activation ? next : null;
      out.push({ index, act, out: act ? readers[0] : index });
    }
  });
  return out;
}

function capture(model: Model, x: Float32Array, batch: number, ctx: Context): Captured {
  const pos = weightedPositions(model);
  const graph = graphOf(model);
  const inputs: Tensor[] = [];
  const outputs: Tensor[] = [];
  const values: NodeValues = [];
  values[slot(graph, -1)] = { data: x, shape: [batch, ...model.spec.inputShape] };
  model.layers.forEach((layer, i) => {
    if (pos.some((p) => p.index === i)) inputs.push(gather(graph, values, i)[0]);
    values[i] = runNode(layer, graph, values, i, ctx);
    if (pos.some((p) => p.out === i)) outputs.push(values[i] as Tensor);
    release(graph, values, i);
  });
  return { inputs, outputs };
}

function diffNorm(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return Math.sqrt(s);
}

function norm(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

/** Runs weighted layer k and its activation on x (with whatever weights the model holds now). */
function layerWithActivation(model: Model, k: number, x: Tensor, ctx: Context): Tensor {
  const { index, act } = weightedPositions(model)[k];
  const y = model.layers[index].forward(x, ctx);
  return act ? act.forward(y, ctx) : y;
}

/**
 * Per-layer error amplification under variation, averaged over chips: the errors are norms over
 * the whole batch of `data` (so one number per layer and chip), then averaged over chips.
 */
export function errorAmplification(
  model: Model,
  data: Split,
  device: Device,
  chips: number,
  seed: number,
  kernels: Kernels,
): LayerAmplification[] {
  const ctx: Context = { kernels, training: false };
  const n = weightedPositions(model).length;
  const clean = capture(model, data.x, data.n, ctx);
  const noise = new WeightNoise(model, { device, seed, readNoise: 0, kernels });
  const sums = Array.from({ length: n }, () => ({ amp: 0, rel: 0, own: 0, out: 0 }));
  for (let c = 0; c < chips; c++) {
    noise.apply(c);
    let varied: Captured;
    const own: Tensor[] = [];
    try {
      varied = capture(model, data.x, data.n, ctx);
      for (let k = 0; k < n; k++) own.push(layerWithActivation(model, k, clean.inputs[k], ctx));
    } finally {
      noise.restore();
    }
    for (let k = 0; k < n; k++) {
      const outClean = clean.outputs[k].data;
      const outNorm = norm(outClean) || 1;
      sums[k].own += diffNorm(own[k].data, outClean) / outNorm;
      sums[k].out += diffNorm(varied.outputs[k].data, outClean) / outNorm;
      if (k === 0) continue;
      const dIn = diffNorm(varied.inputs[k].data, clean.inputs[k].data);
      const prop = layerWithActivation(model, k, varied.inputs[k], ctx).data;
      const dOut = diffNorm(prop, outClean);
      const inNorm = norm(clean.inputs[k].data) || 1;
      sums[k].amp += dIn > 0 ? dOut / dIn : 0;
      sums[k].rel += dIn > 0 ? dOut / outNorm / (dIn / inNorm) : 0;
    }
  }
  return sums.map((s, k) => ({
    layer: k,
    amplification: k === 0 ? null : s.amp / chips,
    relativeAmplification: k === 0 ? null : s.rel / chips,
    ownError: s.own / chips,
    outputError: s.out / chips,
  }));
}

export interface PlacementSetup {
  base: Model;
  /** Training images for the modules during the search (a subset keeps each evaluation short). */
  train: Split;
  /** Validation images the reward is measured on (never the test set). */
  val: Split;
  device: Device;
  /** Module ranks the agent can choose from at each site (action 0 = no module). */
  ranks: number[];
  /** Spatial kernel of the modules after convolutional layers (1 = per pixel). */
  kernel: number;
  /** Overhead budget as a share of the network's parameters (or of what `overhead` measures). */
  budget: number;
  /**
   * A module's overhead as a share of the network, when not its parameters: e.g. the energy or
   * latency per inference it adds (src/cost/recovery.ts siteOverhead). Absent = parameters.
   */
  overhead?: (site: CompensationSite) => number;
  overheadWeight: number;
  epochs: number;
  batchSize: number;
  lr: number;
  /** Chips per evaluation (the same chips for every configuration: common random numbers). */
  chips: number;
  seed: number;
  sensitivity: LayerSensitivity[];
  /** Rail calibration images (as the simulator's); without them the software chips have no rails. */
  calib?: Calibration;
}

/**
 * The placement problem on a real network: one site per weighted layer, actions = no module or
 * a module of one of `ranks`, cost = the module's parameters as a share of the network's, and
 * evaluate = train the configuration's modules under variation (briefly), then its mean
 * accuracy on the validation images over the same `chips` software chips.
 */
export function compensationPlacementProblem(
  s: PlacementSetup,
  kernels: Kernels,
  onEvaluate?: (config: number[], accuracy: number, seconds: number) => void,
): PlacementProblem {
  return placementProblem(
    s,
    (chosen) => {
      let model = s.base;
      if (chosen.length) {
        model = withCompensation(s.base, chosen, s.seed);
        trainCompensation(
          model,
          s.train,
          null,
          { epochs: s.epochs, batchSize: s.batchSize, lr: s.lr, device: s.device, seed: s.seed },
          kernels,
        );
      }
      return mean(softwareChipAccuracy(model, s.val, s.device, s.chips, s.seed + 1000, kernels));
    },
    onEvaluate,
  );
}

/** A placement problem on `s.base` whose configurations are scored by `accuracy` of their sites (timed for `onEvaluate`). */
export function placementProblem(
  s: Pick<PlacementSetup, 'base' | 'ranks' | 'kernel' | 'sensitivity' | 'budget' | 'overheadWeight' | 'overhead'>,
  accuracy: (sites: CompensationSite[]) => number | Promise<number>,
  onEvaluate?: (config: number[], accuracy: number, seconds: number) => void,
): PlacementProblem {
  return {
    ...placementSites(s),
    budget: s.budget,
    overheadWeight: s.overheadWeight,
    evaluate: async (config) => {
      const t0 = performance.now();
      const acc = await accuracy(configSites(s, config));
      onEvaluate?.(config, acc, (performance.now() - t0) / 1000);
      return acc;
    },
  };
}

/**
 * The sites, actions and costs of a placement problem on `base`: a site after every weighted
 * layer (state: position, size of its output, sensitivity), action 0 = no module, action a =
 * a module of rank ranks[a - 1], cost = its parameters as a share of the network's (or what
 * `s.overhead` measures).
 */
export function placementSites(
  s: Pick<PlacementSetup, 'base' | 'ranks' | 'kernel' | 'sensitivity' | 'overhead'>,
): Pick<PlacementProblem, 'sites' | 'actions' | 'cost'> {
  const nSites = s.sensitivity.length;
  const baseParams = networkCost(s.base).params;
  const pos = weightedPositions(s.base);
  const costs = Array.from({ length: nSites }, (_, i) =>
    [0, ...s.ranks].map((_, a) => {
      const site = configSites(
        s,
        Array.from({ length: nSites }, (_, j) => (j === i ? a : 0)),
      )[0];
      if (!site) return 0;
      return s.overhead ? s.overhead(site) : siteCost(s.base, site).params / baseParams;
    }),
  );
  return {
    sites: s.sensitivity.map((sens, i) => ({
      layer: i,
      position: nSites > 1 ? i / (nSites - 1) : 0,
      size: s.base.layers[pos[i].index].outShape.reduce((a, b) => a * b, 1),
      sensitivity: sens.drop,
    })),
    actions: ['none', ...s.ranks.map((r) => (r === 0 ? 'affine' : `rank ${r}`))],
    cost: (i, a) => costs[i][a],
  };
}

/** Output shape of each weighted layer (the feature map a module after it would see). */
export function weightedOutputShapes(model: Model): number[][] {
  return weightedPositions(model).map((p) => model.layers[p.index].outShape);
}

/** The sites of a configuration found by a placement search. */
export function configSites(setup: Pick<PlacementSetup, 'base' | 'ranks' | 'kernel'>, config: number[]): CompensationSite[] {
  const pos = weightedPositions(setup.base);
  return config.flatMap((a, i) => {
    if (!a) return [];
    const out = setup.base.layers[pos[i].index].outShape;
    return [{ layer: i, rank: setup.ranks[a - 1], kernel: out.length === 3 ? setup.kernel : 1 }];
  });
}
