import { XbarError } from '../../core/errors.js';
import type { Kernels } from '../../core/kernels.js';
import type { Split } from '../../data/dataset.js';
import type { Device } from '../../device/config.js';
import { Compensation } from '../../nn/compensation.js';
import { Conv2d } from '../../nn/conv.js';
import { Dense } from '../../nn/dense.js';
import { graphOf, resolvedInputs, withInputs } from '../../nn/graph.js';
import type { LayerSpec } from '../../nn/layer.js';
import { buildModel, type Model } from '../../nn/model.js';
import { type GraphSpec, isGraphSpec, type ModelSpec, type NodeSpec, type SequentialSpec } from '../../nn/spec.js';
import { type EpochStats, type TrainHooks, train } from '../../nn/train.js';
import { Rails, WeightNoise } from '../noise.js';

/**
 * CorrectNet's error compensation: small trainable modules (nn/compensation.ts) inserted after
 * selected weighted layers and trained with variation injected into the (frozen) network, so
 * that they learn to rescue the feature maps. They run digitally: the simulator maps only dense
 * and conv2d layers onto crossbars.
 */
export interface CompensationSite {
  /** Weighted layer (plan numbering: dense and conv2d in order) the module follows. */
  layer: number;
  /** Rank of the module's residual bottleneck; 0 = per-channel affine only. */
  rank: number;
  /** Spatial kernel of the bottleneck's first convolution (feature maps only; default 1). */
  kernel?: number;
}

const isWeighted = (l: LayerSpec) => l.type === 'dense' || l.type === 'conv2d';

/**
 * Where the module after weighted layer `w` goes in spec.layers: after the layer's activation
 * and any pooling that follows it, i.e. on the feature map that feeds the next weighted layer
 * (the cheapest place: pooling has already shrunk it). Returns the insertion index.
 */
export function insertionIndex(spec: SequentialSpec, w: number): number {
  let seen = -1;
  for (let i = 0; i < spec.layers.length; i++) {
    if (spec.layers[i].type === 'compensation') continue;
    if (!isWeighted(spec.layers[i])) continue;
    seen++;
    if (seen !== w) continue;
    let j = i + 1;
    while (j < spec.layers.length && ['activation', 'maxpool', 'avgpool'].includes(spec.layers[j].type)) j++;
    return j;
  }
  throw new XbarError(`compensation site ${w} does not exist: the model has weighted layers 0..${seen}`);
}

/** The spec with compensation modules at the given sites (the base spec must have none). */
export function compensatedSpec<S extends ModelSpec>(spec: S, sites: CompensationSite[]): S;
export function compensatedSpec(spec: ModelSpec, sites: CompensationSite[]): ModelSpec {
  const layerSpecs: LayerSpec[] = isGraphSpec(spec) ? spec.nodes : spec.layers;
  if (layerSpecs.some((l) => l.type === 'compensation'))
    throw new XbarError('the model already has compensation layers: start from the base model');
  const seen = new Set<number>();
  for (const s of sites) {
    if (seen.has(s.layer)) throw new XbarError(`compensation site ${s.layer} is given twice`);
    seen.add(s.layer);
  }
  const moduleSpec = (s: CompensationSite): LayerSpec =>
    s.kernel && s.kernel > 1 ? { type: 'compensation', rank: s.rank, kernel: s.kernel } : { type: 'compensation', rank: s.rank };
  if (isGraphSpec(spec)) return compensatedGraph(spec, sites, moduleSpec);
  const inserts = sites.map((s) => ({ at: insertionIndex(spec, s.layer), s })).sort((a, b) => b.at - a.at);
  const layers = spec.layers.slice();
  for (const { at, s } of inserts) layers.splice(at, 0, moduleSpec(s));
  return { inputShape: spec.inputShape, layers };
}

/**
 * Where the module after weighted node `w` of a graph goes: after the node's batch norm,
 * activation and pooling while each alone reads the one before (in a residual block, before
 * the addition). Returns that node's index.
 */
export function graphInsertionNode(spec: GraphSpec, w: number): number {
  const names = spec.nodes.map((n) => n.name);
  const inputs = resolvedInputs(spec);
  const readers = (i: number) => inputs.flatMap((ins, j) => (ins.includes(names[i]) ? [j] : []));
  const weighted = spec.nodes.flatMap((n, i) => (isWeighted(n) ? [i] : []));
  if (w < 0 || w >= weighted.length)
    throw new XbarError(`compensation site ${w} does not exist: the model has weighted layers 0..${weighted.length - 1}`);
  let cur = weighted[w];
  for (
    let r = readers(cur);
    r.length === 1 && ['batchnorm', 'activation', 'maxpool', 'avgpool'].includes(spec.nodes[r[0]].type);
    r = readers(cur)
  )
    cur = r[0];
  return cur;
}

function compensatedGraph(spec: GraphSpec, sites: CompensationSite[], moduleSpec: (s: CompensationSite) => LayerSpec): GraphSpec {
  const names = spec.nodes.map((n) => n.name);
  const after = new Map<number, { name: string; s: CompensationSite }>();
  for (const s of sites) {
    const name = `comp${s.layer}`;
    if (names.includes(name)) throw new XbarError(`the model already has a node '${name}': rename it to add compensation modules`);
    after.set(graphInsertionNode(spec, s.layer), { name, s });
  }
  const moved = new Map([...after].map(([i, m]) => [names[i], m.name]));
  const inputs = resolvedInputs(spec);
  const nodes = spec.nodes.flatMap((node, i) => {
    const own = { node, inputs: inputs[i].map((n) => moved.get(n) ?? n) };
    const m = after.get(i);
    return m ? [own, { node: { ...moduleSpec(m.s), name: m.name } as NodeSpec, inputs: [node.name] }] : [own];
  });
  return { inputShape: spec.inputShape, nodes: withInputs(nodes) };
}

/** A new model: the base network's weights (copied by name) plus fresh, identity-initialised modules. */
export function withCompensation(base: Model, sites: CompensationSite[], seed = 1): Model {
  const model = buildModel(compensatedSpec(base.spec, sites), seed);
  const byName = new Map(base.params.map((p) => [p.name, p]));
  for (const p of model.params) {
    const q = byName.get(p.name);
    if (q) p.value.set(q.value);
    else if (!p.name.startsWith('comp')) throw new Error(`parameter ${p.name} missing from the base model`);
  }
  return model;
}

/** The base network without its compensation modules (their weights dropped). */
export function withoutCompensation(model: Model): Model {
  let spec: ModelSpec;
  if (isGraphSpec(model.spec)) {
    const comps = new Map<string, string>();
    const inputs = resolvedInputs(model.spec);
    model.spec.nodes.forEach((n, i) => {
      if (n.type === 'compensation') comps.set(n.name, inputs[i][0]);
    });
    const source = (name: string): string => (comps.has(name) ? source(comps.get(name) as string) : name);
    const nodes = model.spec.nodes.flatMap((node, i) => (comps.has(node.name) ? [] : [{ node, inputs: inputs[i].map(source) }]));
    spec = { inputShape: model.spec.inputShape, nodes: withInputs(nodes) };
  } else spec = { inputShape: model.spec.inputShape, layers: model.spec.layers.filter((l) => l.type !== 'compensation') };
  const base = buildModel(spec, 0);
  const byName = new Map(model.params.map((p) => [p.name, p]));
  for (const p of base.params) p.value.set(byName.get(p.name)?.value ?? p.value);
  return base;
}

/** Sites of a compensated model, read back from its layers. */
export function sitesOf(model: Model): CompensationSite[] {
  const sites: CompensationSite[] = [];
  const graph = graphOf(model);
  const weightedIndex = new Map<number, number>();
  model.layers.forEach((l, i) => {
    if (l instanceof Dense || l instanceof Conv2d) weightedIndex.set(i, weightedIndex.size);
  });
  model.layers.forEach((l, i) => {
    if (!(l instanceof Compensation)) return;
    // The weighted layer the module follows: back through its input chain.
    let j = graph.inputs[i][0];
    while (j >= 0 && !weightedIndex.has(j)) j = graph.inputs[j][0];
    const w = weightedIndex.get(j) ?? -1;
    sites.push(l.kernel > 1 ? { layer: w, rank: l.rank, kernel: l.kernel } : { layer: w, rank: l.rank });
  });
  return sites;
}

export interface Cost {
  params: number;
  /** Multiply-adds per input sample. */
  macs: number;
}

/** The network's own parameters and multiply-adds (compensation modules excluded). */
export function networkCost(model: Model): Cost {
  let params = 0;
  let macs = 0;
  for (const l of model.layers) {
    if (l instanceof Compensation) continue;
    params += l.params.reduce((a, p) => a + p.value.length, 0);
    if (l instanceof Dense) macs += l.weight.value.length;
    else if (l instanceof Conv2d) macs += l.geom.oh * l.geom.ow * l.weight.value.length;
  }
  return { params, macs };
}

/** What the compensation modules add, absolute and as a share of the network's own cost. */
export function compensationCost(model: Model): Cost & { paramsShare: number; macsShare: number } {
  let params = 0;
  let macs = 0;
  for (const l of model.layers)
    if (l instanceof Compensation) {
      params += l.cost.params;
      macs += l.cost.macs;
    }
  const base = networkCost(model);
  return { params, macs, paramsShare: params / base.params, macsShare: macs / base.macs };
}

/** Cost of a module of `rank` (and kernel) at weighted layer `w`, without building the model. */
export function siteCost(base: Model, site: CompensationSite): Cost {
  const m = withCompensation(base, [site]);
  const c = compensationCost(m);
  return { params: c.params, macs: c.macs };
}

export interface CompensationTrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  /** Variation injected into the frozen network while the modules train (a new chip per step). */
  device: Device;
  scaling?: 'layer' | 'column';
  seed: number;
  /** Share of the steps over which the injected variation grows from 0 to its full sigma (default 0). */
  ramp?: number;
  /**
   * Rail calibration images: train through the chip's saturating neurons (recalibrated every
   * epoch). Off by default: the clipped units pass no gradient, and on the mlp at sigma 1 the
   * modules trained this way recovered nothing (28% -> 26%) against 28% -> 63% without.
   */
  calib?: { x: Float32Array; n: number };
}

/**
 * Trains only the compensation modules, with a fresh simulated chip's weights in the frozen
 * network at every step (WeightNoise): the modules learn a correction that holds over chips.
 */
export function trainCompensation(
  model: Model,
  data: Split,
  val: Split | null,
  cfg: CompensationTrainConfig,
  kernels: Kernels,
  hooks: Pick<TrainHooks, 'onEpoch' | 'onEpochStart' | 'onBatch'> = {},
): EpochStats[] {
  const trainable = model.layers.filter((l) => l instanceof Compensation).flatMap((l) => l.params.map((p) => p.name));
  if (!trainable.length) throw new XbarError('the model has no compensation modules to train');
  const steps = cfg.epochs * Math.ceil(data.n / cfg.batchSize);
  const rampDraws = Math.round((cfg.ramp ?? 0) * steps);
  const noise = new WeightNoise(model, { device: cfg.device, scaling: cfg.scaling, seed: cfg.seed + 17, rampDraws, kernels });
  let run = model;
  let onEpochStart = hooks.onEpochStart;
  if (cfg.calib) {
    const rails = new Rails(model);
    const calib = cfg.calib;
    run = rails.model;
    onEpochStart = (epoch, n) => {
      rails.calibrate(calib.x, calib.n, kernels);
      hooks.onEpochStart?.(epoch, n);
    };
  }
  return train(
    run,
    data,
    val,
    {
      epochs: cfg.epochs,
      batchSize: cfg.batchSize,
      optimizer: { name: 'adam', lr: cfg.lr },
      schedule: 'cosine',
      seed: cfg.seed,
      trainable,
    },
    kernels,
    { ...hooks, onEpochStart, ...noise.hooks() },
  );
}
