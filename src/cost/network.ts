import type { Kernels } from '../core/kernels.js';
import { type Chip, chipBase } from '../crossbar/chip.js';
import type { Circuit } from '../crossbar/circuit.js';
import type { CrossbarPlan } from '../crossbar/plan.js';
import type { Device } from '../device/config.js';
import { Compensation } from '../nn/compensation.js';
import { Conv2d } from '../nn/conv.js';
import { Dense } from '../nn/dense.js';
import { gather, graphOf, type NodeValues, release, runNode, slot } from '../nn/graph.js';
import type { Context } from '../nn/layer.js';
import type { Model } from '../nn/model.js';
import { size } from '../nn/tensor.js';
import { type CostLayer, costNetwork, type DigitalBlock, type NetworkCost } from './model.js';
import type { Tech } from './tech.js';

/** From a model and its crossbar plan to the cost model's inputs (model.ts). */

/** Where the conductances come from: a programmed chip (variation, faults) or the nominal mapped targets. */
export type ConductanceSource = { kind: 'nominal' } | { kind: 'chip'; chip: Chip; seed: number };

export function conductances(
  plan: CrossbarPlan,
  device: Device,
  source: ConductanceSource,
): { gPos: ArrayLike<number>; gNeg: ArrayLike<number> }[] {
  if (source.kind === 'chip') return source.chip.layers.map((l) => ({ gPos: l.gPos, gNeg: l.gNeg }));
  return chipBase(plan, device).layers.map((l) => ({ gPos: l.gPos, gNeg: l.gNeg }));
}

/** Array reads per inference of the weighted layer at model.layers[index]: its output positions. */
export function readsOf(model: Model, layerIndex: number): number {
  const l = model.layers[layerIndex];
  return l instanceof Conv2d ? l.geom.oh * l.geom.ow : 1;
}

/**
 * Mean of (x_i / xMax)^2 over n inputs, per row of every weighted layer (the bias row is 1),
 * clipped at full scale as the DAC clips: how hard each word line is driven on average. The
 * inputs run through the ideal network (as planCrossbars calibrates).
 */
export function measureActivity(model: Model, plan: CrossbarPlan, x: Float32Array, n: number, kernels: Kernels): Float64Array[] {
  const ctx: Context = { kernels, training: false };
  const out: Float64Array[] = [];
  // Over the model's graph (a chain for sequential models): a node's input is its first reader's value.
  const graph = graphOf(model);
  const values: NodeValues = [];
  values[slot(graph, -1)] = { data: x, shape: [n, ...model.spec.inputShape] };
  let k = 0;
  model.layers.forEach((layer, index) => {
    const lp = plan.layers[k];
    if (lp && lp.layerIndex === index) {
      const h = gather(graph, values, index)[0];
      const rows = layer instanceof Conv2d ? layer.im2col(h.data, n, kernels) : h.data;
      const R = rows.length / lp.nIn;
      const a = new Float64Array(lp.nIn + 1);
      for (let r = 0; r < R; r++)
        for (let i = 0; i < lp.nIn; i++) {
          const v = Math.min(1, Math.abs(rows[r * lp.nIn + i]) / lp.xMax);
          a[i] += v * v;
        }
      for (let i = 0; i < lp.nIn; i++) a[i] /= Math.max(1, R);
      a[lp.nIn] = 1;
      out.push(a);
      k++;
    }
    values[index] = runNode(layer, graph, values, index, ctx);
    release(graph, values, index);
  });
  return out;
}

/** The cost model's layers for `model` on `plan` with the given conductances (and activity, when measured). */
export function costLayers(
  model: Model,
  plan: CrossbarPlan,
  g: { gPos: ArrayLike<number>; gNeg: ArrayLike<number> }[],
  activity?: ArrayLike<number>[],
): CostLayer[] {
  return plan.layers.map((lp, k) => {
    const layer = model.layers[lp.layerIndex];
    return {
      plan: lp,
      reads: readsOf(model, lp.layerIndex),
      gPos: g[k].gPos,
      gNeg: g[k].gNeg,
      activity: activity?.[k],
      inputValues: size(layer.inShape),
      outputValues: size(layer.outShape),
    };
  });
}

/**
 * The compensation modules of `model` as digital blocks, each after the weighted layer before
 * it. In a fully analog circuit (no ADC) a module between two layers digitises the feature map
 * it corrects and drives the result back through DACs; after the last layer the output ADC
 * already digitises it. With per-tile ADCs the values are digital anyway.
 */
export function compensationBlocks(model: Model, circuit: Circuit): DigitalBlock[] {
  const blocks: DigitalBlock[] = [];
  let w = -1;
  const nWeighted = model.layers.filter((l) => l instanceof Dense || l instanceof Conv2d).length;
  for (const l of model.layers) {
    if (l instanceof Dense || l instanceof Conv2d) w++;
    if (!(l instanceof Compensation)) continue;
    const values = size(l.inShape);
    const analog = circuit.adcBits === 0 && w < nWeighted - 1;
    const positions = l.inShape.length === 3 ? l.inShape[0] * l.inShape[1] : 1;
    blocks.push({
      name: `compensation after ${w} (${l.rank ? `rank ${l.rank}` : 'affine'})`,
      after: w,
      macs: l.cost.macs,
      params: l.cost.params,
      reads: positions,
      convertIn: analog ? values : 0,
      convertOut: analog ? values : 0,
    });
  }
  return blocks;
}

/**
 * An output corrector (a small digital network on the chip's voltages) as a digital block: it
 * reads `features` voltages, of which the last `outputs` are the network's outputs (already
 * digitised by the output ADC or the per-tile ADCs); the hidden-layer voltages it also reads
 * need ADCs of their own in a fully analog circuit.
 */
export function correctorBlock(corrector: Model, features: number, outputs: number, circuit: Circuit, name = 'corrector'): DigitalBlock {
  let macs = 0;
  for (const l of corrector.layers) if (l instanceof Dense) macs += l.weight.value.length;
  return {
    name,
    after: null,
    macs,
    params: corrector.parameterCount,
    reads: 1,
    convertIn: circuit.adcBits === 0 ? Math.max(0, features - outputs) : 0,
    convertOut: 0,
  };
}

export interface ModelCostInput {
  model: Model;
  plan: CrossbarPlan;
  device: Device;
  conductances?: ConductanceSource;
  /** Per-layer activity from measureActivity; absent = every row at full scale. */
  activity?: ArrayLike<number>[];
  /** Extra digital blocks (a corrector); the model's own compensation modules are found in it. */
  blocks?: DigitalBlock[];
}

/** Cost of one inference of `model` as planned (its compensation modules included). */
export function costOfModel(input: ModelCostInput, tech: Tech): NetworkCost {
  const g = conductances(input.plan, input.device, input.conductances ?? { kind: 'nominal' });
  const layers = costLayers(input.model, input.plan, g, input.activity);
  const blocks = [...compensationBlocks(input.model, input.plan.circuit), ...(input.blocks ?? [])];
  return costNetwork(layers, blocks, input.plan.circuit, tech);
}

export interface Overhead {
  energy: number;
  energyShare: number;
  latency: number;
  latencyShare: number;
  area: number;
  areaShare: number;
}

/** What `withExtra` adds over `base` (the same network without the recovery method), absolute and relative. */
export function overhead(base: NetworkCost, withExtra: NetworkCost): Overhead {
  const d = (a: number, b: number) => ({ abs: b - a, share: a > 0 ? (b - a) / a : 0 });
  const e = d(base.energyTotal, withExtra.energyTotal);
  const l = d(base.latency, withExtra.latency);
  const a = d(base.areaTotal, withExtra.areaTotal);
  return { energy: e.abs, energyShare: e.share, latency: l.abs, latencyShare: l.share, area: a.abs, areaShare: a.share };
}
