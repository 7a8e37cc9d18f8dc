import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { Activation } from '../nn/activation.js';
import { Conv2d } from '../nn/conv.js';
import { Dense } from '../nn/dense.js';
import { type Graph, gather, graphOf, type NodeValues, release, runNode, slot } from '../nn/graph.js';
import type { Context } from '../nn/layer.js';
import type { Model } from '../nn/model.js';
import type { Tensor } from '../nn/tensor.js';
import type { Circuit } from './circuit.js';
import { mappingOf, weightColsPerArray } from './mapping.js';

/** One physical array's share of a layer: weight rows r0..r1 and weight columns c0..c1 (physical columns: mapping.ts). */
export interface Tile {
  r0: number;
  r1: number;
  c0: number;
  c1: number;
}

/**
 * How one weighted layer sits on the crossbars, and the voltage ranges calibrated for it. The
 * layer's weights and bias form one matrix A [nIn + 1, nOut] (bias = last row, driven by a
 * constant full-scale input), scaled so that max |A| maps to the full conductance swing.
 */
export interface LayerPlan {
  /**
   * Index in model.layers (node index in a graph model), and among weighted layers: the
   * numbering fault specs' @layers= use, dense and conv2d nodes in model order.
   */
  layerIndex: number;
  weighted: number;
  /**
   * The node whose output the neuron produces: the activation read only from this layer (fused
   * into the neuron), else the layer itself.
   */
  outputNode: number;
  kind: 'dense' | 'conv2d';
  nIn: number;
  nOut: number;
  A: Float32Array;
  wMax: number;
  /** The weight that maps to the full conductance swing, per output column (all wMax with layer scaling). */
  colScale: Float64Array;
  tiles: Tile[];
  rowTiles: Tile[][];
  /** Calibrated full scale of the inputs (DAC range), of one row tile's partial sums (ADC), of outputs. */
  xMax: number;
  signedInput: boolean;
  adcFullScale: number[];
  yMax: number;
  /** Activation after the layer (or 'linear') and where the neuron saturates, in layer units. */
  activation: { fn: Activation['fn']; cap: number; alpha?: number } | null;
  rail: number;
}

export interface CrossbarPlan {
  layers: LayerPlan[];
  circuit: Circuit;
  /** Output-voltage scale: volts per unit of the last layer's output. */
  voltsPerUnit: number;
}

/**
 * Dense and conv2d layers in model order, each with the activation its neuron applies: the layer
 * that alone reads its output, when that is an activation (otherwise the raw output is needed
 * elsewhere, e.g. by a residual addition, and the activation runs in the periphery).
 */
function weightedLayers(
  model: Model,
  graph: Graph,
): { index: number; layer: Dense | Conv2d; act: Activation | null; outputNode: number }[] {
  const out: { index: number; layer: Dense | Conv2d; act: Activation | null; outputNode: number }[] = [];
  model.layers.forEach((l, index) => {
    if (!(l instanceof Dense || l instanceof Conv2d)) return;
    const readers = graph.consumers[index];
    const next = readers.length === 1 ? model.layers[readers[0]] : undefined;
    const act = next instanceof Activation ? next : null;
    out.push({ index, layer: l, act, outputNode: act ? readers[0] : index });
  });
  return out;
}

export function tilesFor(rows: number, cols: number, circuit: Circuit): Tile[][] {
  const colsPerTile = weightColsPerArray(circuit.arrayCols, mappingOf(circuit));
  const byRow: Tile[][] = [];
  for (let r0 = 0; r0 < rows; r0 += circuit.arrayRows) {
    const row: Tile[] = [];
    for (let c0 = 0; c0 < cols; c0 += colsPerTile)
      row.push({ r0, r1: Math.min(rows, r0 + circuit.arrayRows), c0, c1: Math.min(cols, c0 + colsPerTile) });
    byRow.push(row);
  }
  return byRow;
}

/**
 * Maps every weighted layer and calibrates the voltage ranges on `calib` (training images, never
 * the test set) with the ideal network: DAC range = largest input, ADC full scale = largest
 * partial sum, rail = railHeadroom x largest activation.
 */
export function planCrossbars(model: Model, circuit: Circuit, calib: Float32Array, nCalib: number, kernels: Kernels): CrossbarPlan {
  const graph = graphOf(model);
  const ws = weightedLayers(model, graph);
  if (!ws.length) throw new XbarError('the model has no dense or conv2d layer to map onto crossbars');
  const layers: LayerPlan[] = ws.map(({ index, layer, act, outputNode }, weighted) => {
    const [nIn, nOut] = layer.weight.shape;
    const A = new Float32Array((nIn + 1) * nOut);
    A.set(layer.weight.value);
    A.set(layer.bias.value, nIn * nOut);
    let wMax = 0;
    for (const v of A) wMax = Math.max(wMax, Math.abs(v));
    const rowTiles = tilesFor(nIn + 1, nOut, circuit);
    const colScale = new Float64Array(nOut).fill(wMax || 1);
    if (circuit.scaling === 'column') {
      colScale.fill(0);
      for (let i = 0; i < A.length; i++) colScale[i % nOut] = Math.max(colScale[i % nOut], Math.abs(A[i]));
      for (let j = 0; j < nOut; j++) colScale[j] ||= 1;
    }
    return {
      layerIndex: index,
      weighted,
      outputNode,
      kind: layer instanceof Dense ? 'dense' : 'conv2d',
      nIn,
      nOut,
      A,
      wMax: wMax || 1,
      colScale,
      tiles: rowTiles.flat(),
      rowTiles,
      xMax: 0,
      signedInput: false,
      adcFullScale: rowTiles.map(() => 0),
      yMax: 0,
      activation: act ? { fn: act.fn, cap: act.cap, ...(act.fn === 'leakyrelu' && { alpha: act.alpha }) } : null,
      rail: Number.POSITIVE_INFINITY,
    };
  });

  // Calibration pass: the ideal network, node by node, recording ranges at each weighted layer.
  const at = new Map(layers.map((lp) => [lp.layerIndex, lp]));
  const neuronAt = new Map(layers.filter((lp) => lp.outputNode !== lp.layerIndex).map((lp) => [lp.outputNode, lp]));
  calibrationPass(model, graph, calib, nCalib, kernels, (index, h, input) => {
    const lp = at.get(index);
    if (lp) {
      calibrateRanges(lp, model.layers[index] as Dense | Conv2d, input.data, nCalib, h.data, kernels);
      lp.yMax = maxAbs(h.data, lp.yMax) || 1;
    }
    const prev = neuronAt.get(index);
    if (prev) prev.rail = neuronRail(circuit, h.data);
  });
  const last = layers[layers.length - 1];
  if (circuit.saturate && !last.activation) last.rail = circuit.railHeadroom * last.yMax;
  return { layers, circuit, voltsPerUnit: circuit.vRead / last.yMax };
}

/**
 * The rails planCrossbars gives the weighted layers (plan.layers[k].rail), without the rest of the
 * plan: the same pass over the calibration images and the same maxima, but none of the DAC and ADC
 * ranges, whose partial sums per row tile cost more than the pass itself (per-chip calibration
 * measures a chip's rails once per chip).
 */
export function calibrateRails(model: Model, circuit: Circuit, calib: Float32Array, nCalib: number, kernels: Kernels): number[] {
  const graph = graphOf(model);
  const ws = weightedLayers(model, graph);
  if (!ws.length) throw new XbarError('the model has no dense or conv2d layer to map onto crossbars');
  const rails = ws.map(() => Number.POSITIVE_INFINITY);
  const last = ws.length - 1;
  // The neurons whose rail the plan sets: a fused activation's output, and the last layer's raw output.
  const railAt = new Map(ws.flatMap((w, k) => (w.act || k === last ? [[w.outputNode, k] as const] : [])));
  calibrationPass(model, graph, calib, nCalib, kernels, (index, h) => {
    const k = railAt.get(index);
    if (k !== undefined) rails[k] = neuronRail(circuit, h.data);
  });
  return rails;
}

/** A neuron's rail: railHeadroom x the largest |output| on the calibration images (unbounded without saturation). */
function neuronRail(circuit: Circuit, h: Float32Array): number {
  return circuit.saturate ? circuit.railHeadroom * (maxAbs(h, 0) || 1) : Number.POSITIVE_INFINITY;
}

/** The ideal network on all the calibration images at once, node by node: visit(node, its output, its first input). */
function calibrationPass(
  model: Model,
  graph: Graph,
  calib: Float32Array,
  nCalib: number,
  kernels: Kernels,
  visit: (index: number, h: Tensor, input: Tensor) => void,
): void {
  const ctx: Context = { kernels, training: false };
  const values: NodeValues = [];
  values[slot(graph, -1)] = { data: calib, shape: [nCalib, ...model.spec.inputShape] };
  model.layers.forEach((layer, index) => {
    const input = gather(graph, values, index)[0];
    const h = runNode(layer, graph, values, index, ctx);
    values[index] = h;
    visit(index, h, input);
    release(graph, values, index);
  });
}

/**
 * A weighted layer's DAC range (largest input the word lines see, and whether any is negative)
 * and each row tile's ADC full scale (largest partial sum), from its calibration input x and its
 * ideal output y (what the single row tile of a small layer sums). A convolution's inputs are read
 * from its images (the pixels some window covers) and its partial sums come from convolutions
 * with the other tiles' rows zeroed, never from the unrolled rows (~50x the images, memory-bound).
 */
function calibrateRanges(lp: LayerPlan, layer: Dense | Conv2d, x: Float32Array, batch: number, y: Float32Array, kernels: Kernels): void {
  const { nIn, nOut } = lp;
  const conv = layer instanceof Conv2d ? layer : null;
  const covered = conv ? coveredPixels(conv) : null;
  let lo = 0;
  let hi = 0;
  if (!covered || covered.every(Boolean)) [lo, hi] = range(x, 0, x.length, lo, hi);
  else {
    const c = conv?.geom.c ?? 1;
    for (let o = 0, p = 0; o < x.length; o += c, p = p + 1 === covered.length ? 0 : p + 1)
      if (covered[p]) [lo, hi] = range(x, o, o + c, lo, hi);
  }
  const xMax = Math.max(lp.xMax, hi, -lo);
  const signed = lp.signedInput || lo < 0;
  lp.xMax = xMax || 1;
  lp.signedInput = signed;
  const rows = y.length / nOut;
  lp.rowTiles.forEach((row, t) => {
    const { r0, r1 } = row[0];
    let part = y;
    if (lp.rowTiles.length > 1) {
      const inRows = Math.min(r1, nIn) - r0;
      const bias = r1 > nIn ? lp.A.subarray(nIn * nOut) : new Float32Array(nOut);
      part = new Float32Array(rows * nOut);
      if (conv) {
        const w = new Float32Array(nIn * nOut);
        w.set(lp.A.subarray(r0 * nOut, (r0 + inRows) * nOut), r0 * nOut);
        conv.product(x, batch, kernels, w, bias, part);
      } else {
        if (inRows > 0)
          kernels.sgemm(false, false, rows, nOut, inRows, 1, x.subarray(r0), nIn, lp.A.subarray(r0 * nOut), nOut, 0, part, nOut);
        for (let i = 0; i < rows; i++) for (let j = 0; j < nOut; j++) part[i * nOut + j] += bias[j];
      }
    }
    lp.adcFullScale[t] = maxAbs(part, lp.adcFullScale[t]) || 1;
  });
}

/** Which input pixels (h x w, row-major) some window of the convolution reads: all but those a stride skips. */
function coveredPixels(conv: Conv2d): Uint8Array {
  const { h, w, k, stride, pad, oh, ow } = conv.geom;
  const axis = (n: number, out: number) => {
    const on = new Uint8Array(n);
    for (let o = 0; o < out; o++) for (let i = Math.max(0, o * stride - pad); i < Math.min(n, o * stride - pad + k); i++) on[i] = 1;
    return on;
  };
  const ys = axis(h, oh);
  const xs = axis(w, ow);
  const out = new Uint8Array(h * w);
  for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) out[i * w + j] = ys[i] & xs[j];
  return out;
}

/** [min(lo, a[i0..i1)), max(hi, a[i0..i1))] (NaN-free data: calibration activations); selects, not branches, which the signs of activations would mispredict. */
function range(a: Float32Array, i0: number, i1: number, lo: number, hi: number): [number, number] {
  for (let i = i0; i < i1; i++) {
    const v = a[i];
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  return [lo, hi];
}

/** The largest |v| of a, or m if larger. */
function maxAbs(a: Float32Array, m: number): number {
  const [lo, hi] = range(a, 0, a.length, 0, 0);
  return Math.max(m, hi, -lo);
}
