import type { Device } from '../device/config.js';
import { Activation, apply } from '../nn/activation.js';
import { type Graph, gather, type NodeValues, runNodes, slot } from '../nn/graph.js';
import type { Context } from '../nn/layer.js';
import { Add } from '../nn/merge.js';
import type { Model } from '../nn/model.js';
import type { LayerChip } from './chip.js';
import type { CrossbarPlan } from './plan.js';
import { type Activations, fusesResidual, type SimOptions, scratchBuffer, weightedOnChip } from './simulate.js';

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
  // Activations computed with the node before them: by a weighted node's neuron, or with the
  // residual addition they alone read (one pass over the sum instead of two arrays).
  const fused = new Set(plan.layers.filter((lp) => lp.outputNode !== lp.layerIndex).map((lp) => lp.outputNode));
  const addThen = addActivations(model, graph, fused);
  const withAdd = new Set<number>();
  runNodes(model.layers, graph, values, ctx, first, end, (i) => {
    if (fused.has(i) || withAdd.has(i)) return true;
    const act = addThen.get(i);
    if (act !== undefined && act < end) {
      // The periphery's addition and activation in one buffer, reused chip after chip when the
      // pass has scratch (its outputs are read before the next chip's pass).
      const ins = gather(graph, values, i);
      const size = ins[0].data.length;
      const y = opts.scratch ? scratchBuffer(opts.scratch, plan.layers.length + i, size) : new Float32Array(size);
      addActivated(ins, model.layers[act] as Activation, y, opts);
      values[act] = { data: y, shape: ins[0].shape.slice() };
      withAdd.add(act);
      return true;
    }
    const li = planAt.get(i);
    if (li === undefined) return false;
    const lp = plan.layers[li];
    const layer = model.layers[i];
    const pre = i === first ? opts.from?.product : undefined;
    // With the product given, the input is only read for read noise.
    const h = !pre || (dev.readNoise > 0 && opts.rng) ? gather(graph, values, i)[0].data : new Float32Array(0);
    const shape = [batch, ...layer.outShape];
    // A convolution closing a residual block: its sum with the shortcut and the ReLU in its own pass.
    const add = graph.consumers[i].length === 1 && lp.outputNode === i ? graph.consumers[i][0] : -1;
    const closing = addThen.get(add);
    const other = closing === undefined ? undefined : graph.inputs[add].find((j) => j !== i);
    const shortcut = other === undefined ? undefined : values[slot(graph, other)];
    if (
      !pre &&
      closing !== undefined &&
      closing < end &&
      shortcut &&
      graph.inputs[add].length === 2 &&
      (model.layers[closing] as Activation).fn === 'relu' &&
      fusesResidual(layer, lp, dev, plan, opts)
    ) {
      values[closing] = { data: weightedOnChip(layer, h, batch, li, lp, chip[li], dev, plan, opts, pre, shortcut.data), shape };
      withAdd.add(add);
      withAdd.add(closing);
      return true;
    }
    values[lp.outputNode] = { data: weightedOnChip(layer, h, batch, li, lp, chip[li], dev, plan, opts, pre), shape };
    return true;
  });
  if (end >= n) return values[n - 1] as Activations;
  const h = values[slot(graph, graph.inputs[end][0])];
  if (!h) throw new Error(`simulateGraphBatch: the input of node ${graph.names[end]} was not computed`);
  return { data: h.data, shape: h.shape, values };
}

/** Add nodes whose only reader is an activation (a residual block's closing ReLU), to that activation's node. */
function addActivations(model: Model, graph: Graph, fused: Set<number>): Map<number, number> {
  const out = new Map<number, number>();
  model.layers.forEach((layer, i) => {
    const readers = graph.consumers[i];
    if (!(layer instanceof Add) || readers.length !== 1 || fused.has(i)) return;
    const j = readers[0];
    if (model.layers[j] instanceof Activation && graph.inputs[j].length === 1) out.set(i, j);
  });
  return out;
}

/** y = act(sum of the inputs), summed in Add.merge's order so that the result is the same bits. */
function addActivated(ins: { data: Float32Array }[], act: Activation, y: Float32Array, opts: SimOptions): void {
  y.set(ins[0].data);
  for (let k = 1; k < ins.length; k++) {
    const v = ins[k].data;
    for (let i = 0; i < v.length; i++) y[i] += v[i];
  }
  // ReLU as the neuron applies it (kernels.clamp, max(v, 0)); any other as in software.
  if (act.fn === 'relu') opts.kernels.clamp(y, 0, Number.POSITIVE_INFINITY);
  else apply(act.fn, act.cap, y, y, act.alpha);
}
