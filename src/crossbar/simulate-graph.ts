import type { Device } from '../device/config.js';
import { Conv2d } from '../nn/conv.js';
import { gather, type NodeValues, runNodes, slot } from '../nn/graph.js';
import type { Context } from '../nn/layer.js';
import type { Model } from '../nn/model.js';
import type { LayerChip } from './chip.js';
import type { CrossbarPlan } from './plan.js';
import { type Activations, crossbarLayer, neuron, type SimOptions, scratchBuffer } from './simulate.js';

const NO_ROWS = new Float32Array(0);

/**
 * simulateBatch for a graph model: the nodes in order, each weighted node on its arrays (its
 * neuron producing its fused activation's output, plan.outputNode), every other node (additions,
 * concatenation, pooling, activations not fused, batch norms not folded) in the digital periphery
 * as in software. With `until` the result carries the outputs later nodes still read, and a pass
 * with `from` resumes from them (a copy: the same prefix serves every chip of a Monte Carlo chunk).
 */
export function simulateGraphBatch(
  model: Model,
  plan: CrossbarPlan,
  chip: LayerChip[],
  dev: Device,
  x: Float32Array,
  batch: number,
  opts: SimOptions,
): Activations {
  const graph = model.graph;
  if (!graph) throw new Error('simulateGraphBatch needs a graph model');
  const ctx: Context = { kernels: opts.kernels, training: false };
  const n = model.layers.length;
  let values: NodeValues;
  if (opts.from) {
    const carried = opts.from.h.values;
    if (!carried) throw new Error('simulateGraphBatch: `from` needs the activations of a pass stopped with `until`');
    values = carried.slice();
  } else {
    values = [];
    values[slot(graph, -1)] = { data: x, shape: [batch, ...model.spec.inputShape] };
  }
  const first = opts.from?.layer ?? 0;
  const end = opts.until ?? n;
  const planAt = new Map(plan.layers.map((lp, li) => [lp.layerIndex, li]));
  const fused = new Set(plan.layers.filter((lp) => lp.outputNode !== lp.layerIndex).map((lp) => lp.outputNode));
  runNodes(model.layers, graph, values, ctx, first, end, (i) => {
    if (fused.has(i)) return true; // computed by its layer's neuron
    const li = planAt.get(i);
    if (li === undefined) return false;
    const lp = plan.layers[li];
    const layer = model.layers[i];
    const pre = i === first ? opts.from?.product : undefined;
    // With the product given, the unrolled input is only needed for read noise.
    const needRows = !pre || (dev.readNoise > 0 && opts.rng);
    const h = needRows ? gather(graph, values, i)[0] : null;
    const rows = !h ? NO_ROWS : layer instanceof Conv2d ? layer.im2col(h.data, batch, opts.kernels) : h.data;
    const R = pre ? pre.length / lp.nOut : rows.length / lp.nIn;
    const out = opts.scratch && !pre ? scratchBuffer(opts.scratch, li, R * lp.nOut) : undefined;
    const y = neuron(crossbarLayer(rows, R, lp, chip[li], dev, plan, opts.kernels, opts.rng, pre, out), lp, opts.kernels);
    values[lp.outputNode] = { data: y, shape: [batch, ...layer.outShape] };
    return true;
  });
  if (end >= n) return values[n - 1] as Activations;
  const h = values[slot(graph, graph.inputs[end][0])];
  if (!h) throw new Error(`simulateGraphBatch: the input of node ${graph.names[end]} was not computed`);
  return { data: h.data, shape: h.shape, values };
}
