import { type Csr, type Kernels, toCsr } from '../core/kernels.js';
import type { Rng } from '../core/rng.js';
import type { Device } from '../device/config.js';
import { Activation, apply } from '../nn/activation.js';
import { Conv2d } from '../nn/conv.js';
import type { NodeValues } from '../nn/graph.js';
import type { Context, Layer } from '../nn/layer.js';
import type { Model } from '../nn/model.js';
import { Pool2d } from '../nn/pool.js';
import { fillRows, size, type Tensor } from '../nn/tensor.js';
import type { LayerChip } from './chip.js';
import { type AdcErrors, adcConvert, dacInl } from './converters.js';
import { cellGain, mappingOf, significances } from './mapping.js';
import type { CrossbarPlan, LayerPlan } from './plan.js';
import { simulateGraphBatch } from './simulate-graph.js';

/**
 * The behavioural circuit model of one layer on one chip, for R input rows (images, or conv
 * receptive fields), in weight units: word-line voltages are x * vRead / xMax, each bit-line pair
 * carries (G+ - G-)-weighted currents by Ohm's and Kirchhoff's laws, and the TIA gain maps the
 * difference back to weight units. Returns the pre-activation outputs [R, nOut], in `out` when given.
 */
export function crossbarLayer(
  x: Float32Array,
  R: number,
  lp: LayerPlan,
  lc: LayerChip,
  dev: Device,
  plan: CrossbarPlan,
  kernels: Kernels,
  rng: Rng | null,
  pre?: Float32Array,
  out?: Float32Array,
): Float32Array {
  const noisy = dev.readNoise > 0 && rng;
  // With the product given, the input is only needed for read noise.
  const xin = pre && !noisy ? x : layerInput(x, lp, plan);
  const y = pre ?? productOnChip(rowsInput(xin, lp, plan, null, null), lp, lc, plan, kernels, out, rng);
  if (noisy) {
    const v = new Float32Array(R * lp.nOut);
    const nv = noiseVariance(lc, lp, dev, plan);
    fillRows(v, nv.subarray(lp.nIn * lp.nOut), R);
    kernels.sgemm(false, false, R, lp.nOut, lp.nIn, 1, squared(xin), lp.nIn, nv, lp.nOut, 1, v, lp.nOut);
    addReadNoise(y, v, dev.readNoise, rng);
  }
  return y;
}

const NO_ROWS = new Float32Array(0);

/**
 * Whether a convolution's product on the chip runs straight from its input images (the conv2d
 * kernel, no unrolled rows): the circuit then treats every input as it is, with no DAC to round it
 * and no ADC that needs each row tile's partial sums.
 */
export function convDirect(plan: CrossbarPlan): boolean {
  return plan.circuit.dacBits === 0 && plan.circuit.adcBits === 0;
}

/**
 * One weighted node on its arrays: the product on the chip (or `pre`, that product already
 * computed for this chip), read noise, then the neuron. `x` is the node's input activations
 * (images for a convolution), `li` its index in plan.layers. A convolution runs straight from its
 * images when convDirect says so, and is unrolled (im2col) otherwise; without read noise its
 * neuron, when that is a clamp, runs inside the kernel (one pass over the output). `residual`
 * (see fusesResidual) is added to the output before a ReLU: the periphery's addition and
 * activation after this node, done in the same pass.
 */
export function weightedOnChip(
  layer: Layer,
  x: Float32Array,
  batch: number,
  li: number,
  lp: LayerPlan,
  lc: LayerChip,
  dev: Device,
  plan: CrossbarPlan,
  opts: SimOptions,
  pre?: Float32Array,
  residual?: Float32Array,
): Float32Array {
  const { kernels, rng } = opts;
  const conv = layer instanceof Conv2d ? layer : null;
  const R = conv ? batch * conv.geom.oh * conv.geom.ow : batch;
  const out = opts.scratch && !pre ? scratchBuffer(opts.scratch, li, R * lp.nOut) : undefined;
  const noisy = dev.readNoise > 0 && rng;
  if (!conv || !convDirect(plan)) {
    // With the product given, the unrolled input is only needed for read noise.
    const rows = pre && !noisy ? NO_ROWS : conv ? conv.im2col(x, batch, kernels) : x;
    return neuron(crossbarLayer(rows, R, lp, lc, dev, plan, kernels, rng, pre, out), lp, kernels);
  }
  const { nIn, nOut } = lp;
  const bounds = pre || noisy ? null : neuronClamp(lp);
  if (residual && !bounds) throw new Error('weightedOnChip: a residual addition needs a node that fusesResidual');
  const then = residual ? { add: residual, lo: 0 } : (bounds ?? undefined);
  const y = pre ?? conv.product(x, batch, kernels, lc.wEff, lc.wEff.subarray(nIn * nOut), out ?? new Float32Array(R * nOut), then);
  if (bounds) return y;
  if (noisy) {
    const nv = noiseVariance(lc, lp, dev, plan);
    addReadNoise(y, conv.product(squared(x), batch, kernels, nv, nv.subarray(nIn * nOut), new Float32Array(R * nOut)), dev.readNoise, rng);
  }
  return neuron(y, lp, kernels);
}

/** The neuron as a clamp (ReLU, or a linear neuron's rails), or null when it applies another function. */
function neuronClamp(lp: LayerPlan): { lo?: number; hi?: number } | null {
  const fn = lp.activation?.fn ?? 'linear';
  if (fn === 'relu') return { lo: 0, hi: lp.rail };
  if (fn !== 'linear') return null;
  return Number.isFinite(lp.rail) ? { lo: -lp.rail, hi: lp.rail } : {};
}

/**
 * Whether weightedOnChip can add a residual branch and apply the ReLU after it in the kernel's
 * pass: a convolution run straight from its images, whose neuron passes its output on unchanged
 * (no activation, no rail), on a pass without read noise.
 */
export function fusesResidual(layer: Layer, lp: LayerPlan, dev: Device, plan: CrossbarPlan, opts: SimOptions): boolean {
  return layer instanceof Conv2d && convDirect(plan) && !lp.activation && !Number.isFinite(lp.rail) && !(dev.readNoise > 0 && opts.rng);
}

/** The layer's input as the word lines see it: through the DAC when it has one. */
export function layerInput(x: Float32Array, lp: LayerPlan, plan: CrossbarPlan): Float32Array {
  return plan.circuit.dacBits > 0 ? dac(x, lp.xMax, plan.circuit.dacBits, lp.signedInput, plan.circuit.dacInl) : x;
}

/**
 * What the chips of a Monte Carlo chunk share at their first varying layer, for one image batch:
 * its input, as images (a convolution that runs straight from them, convDirect) or as unrolled
 * rows after the DAC, and what is derived from it once for all chips. Build it with sharedInput.
 */
export interface SharedInput {
  /** Rows of the layer's product: images, or images x output pixels. */
  R: number;
  /** A convolution's input images, when its product runs from them. */
  conv?: { layer: Conv2d; x: Float32Array; batch: number };
  /** The unrolled input rows after the DAC (layerInput), [R, nIn]; for `conv`, unrolled on first use (sharedRows). */
  xin?: Float32Array;
  /** The fault-free chip's weights, for chips with the stuck-cell shortcut (LayerChip.sparse). */
  idealW: Float32Array | null;
  /** The fault-free product, computed on the first chip with the shortcut (sharedClean). */
  clean?: Float32Array;
  /** xin's nonzeros, when sparse enough that a sparse product beats the GEMM. */
  csr?: Csr;
}

/** Below this share of nonzero inputs, and with at least SPARSE_MIN_OUT outputs, spmm beats sgemm (`npm run bench:gemm`'s last line: ~3x at MNIST's 18%). */
const SPARSE_MAX_DENSITY = 0.4;
const SPARSE_MIN_OUT = 32;

/**
 * Prepares one layer's input x (its activations: images for a convolution) for productOnChip on
 * many chips. `idealW` (the fault-free chip's weights) enables the stuck-cell shortcut.
 */
export function sharedInput(
  layer: Layer,
  x: Float32Array,
  batch: number,
  lp: LayerPlan,
  plan: CrossbarPlan,
  kernels: Kernels,
  idealW: Float32Array | null,
): SharedInput {
  if (layer instanceof Conv2d && convDirect(plan)) return { R: batch * layer.geom.oh * layer.geom.ow, conv: { layer, x, batch }, idealW };
  // A copy of the unrolled rows: the layer's im2col buffer is reused by its next call.
  const rows = layer instanceof Conv2d ? layer.im2col(x, batch, kernels).slice() : x;
  return rowsInput(layerInput(rows, lp, plan), lp, plan, idealW, kernels);
}

/**
 * SharedInput of rows already unrolled and through the DAC. `shared`: the kernels of the chips
 * that will share it, to look for a CSR worth using (one pass over xin) and plan its rows in pairs
 * for them (Kernels.pairRows: once per batch, for every chip's product); null for one chip's input.
 */
function rowsInput(xin: Float32Array, lp: LayerPlan, plan: CrossbarPlan, idealW: Float32Array | null, shared: Kernels | null): SharedInput {
  const R = xin.length / lp.nIn;
  const adc = plan.circuit.adcBits > 0 && lp.rowTiles.length > 0;
  if (!shared || adc || lp.nOut < SPARSE_MIN_OUT) return { R, xin, idealW };
  const csr = toCsr(xin, R, lp.nIn, SPARSE_MAX_DENSITY);
  if (!csr) return { R, xin, idealW };
  const pairs = shared.pairRows?.(R, lp.nIn, csr);
  return { R, xin, idealW, csr: pairs ? { ...csr, pairs } : csr };
}

/** The shared input's unrolled rows (after the DAC), unrolled on first use for a convolution. */
function sharedRows(s: SharedInput, lp: LayerPlan, plan: CrossbarPlan, kernels: Kernels): Float32Array {
  if (!s.xin) {
    const c = s.conv;
    if (!c) throw new Error('sharedRows: a shared input without rows or images');
    s.xin = layerInput(c.layer.im2col(c.x, c.batch, kernels).slice(), lp, plan);
  }
  return s.xin;
}

/** The fault-free product of the shared input, computed once on first use. */
function sharedClean(s: SharedInput, idealW: Float32Array, lp: LayerPlan, plan: CrossbarPlan, kernels: Kernels): Float32Array {
  s.clean ??= cleanProduct(sharedRows(s, lp, plan, kernels), s.R, lp, idealW, kernels);
  return s.clean;
}

/**
 * Pre-activation outputs [R, nOut] of one layer on one chip for the shared input, without read
 * noise: what the Monte Carlo computes for the first layer that differs between chips. A chip
 * with the stuck-cell shortcut adds its few cells' change to the fault-free product. The result
 * goes into `out` (R * nOut floats, any content) when given, so that a Monte Carlo reuses one
 * buffer per layer instead of allocating and zeroing megabytes per chip. `rng` draws the ADC's
 * per-conversion noise (circuit.adcNoise), when there is one.
 */
export function productOnChip(
  s: SharedInput,
  lp: LayerPlan,
  lc: LayerChip,
  plan: CrossbarPlan,
  kernels: Kernels,
  out?: Float32Array,
  rng: Rng | null = null,
): Float32Array {
  const { nIn, nOut } = lp;
  const { R } = s;
  if (s.idealW && lc.sparse)
    return withStuckCells(sharedClean(s, s.idealW, lp, plan, kernels), sharedRows(s, lp, plan, kernels), R, nIn, nOut, lc.sparse);
  if (plan.circuit.adcBits > 0 && lp.rowTiles.length > 0)
    return tiledWithAdc(
      sharedRows(s, lp, plan, kernels),
      R,
      lp,
      lc.wEff,
      plan.circuit.adcBits,
      kernels,
      lc.adc,
      plan.circuit.adcNoise,
      rng,
    );
  const y = out ?? new Float32Array(R * nOut);
  if (y.length !== R * nOut) throw new RangeError(`productOnChip: out has ${y.length} floats, not ${R * nOut}`);
  const bias = lc.wEff.subarray(nIn * nOut);
  if (s.conv) return s.conv.layer.product(s.conv.x, s.conv.batch, kernels, lc.wEff, bias, y);
  fillRows(y, bias, R);
  if (s.csr) kernels.spmm(R, nOut, nIn, s.csr, lc.wEff, y);
  else kernels.sgemm(false, false, R, nOut, nIn, 1, sharedRows(s, lp, plan, kernels), nIn, lc.wEff, nOut, 1, y, nOut);
  return y;
}

/**
 * Whether productOnChip would only run the convolution kernel on the shared images: the chip's
 * own pass (simulateBatch without `from.product`) then does the same product with the neuron's
 * clamp, or a residual addition, in the kernel's store instead of in further passes over an
 * output that no longer fits in cache (LeNet-5's first layer: 18.8 MB per 1000 images).
 */
export function productInPass(s: SharedInput, lc: LayerChip): boolean {
  return s.conv !== undefined && !(s.idealW && lc.sparse);
}

/** Faults only: the fault-free product shared by every chip plus the few stuck cells' change. */
function withStuckCells(
  clean: Float32Array,
  xin: Float32Array,
  R: number,
  nIn: number,
  nOut: number,
  sparse: NonNullable<LayerChip['sparse']>,
): Float32Array {
  const y = clean.slice();
  const { index, delta } = sparse;
  for (let k = 0; k < index.length; k++) {
    const i = (index[k] / nOut) | 0;
    const j = index[k] - i * nOut;
    const d = delta[k];
    if (i === nIn) for (let r = 0; r < R; r++) y[r * nOut + j] += d;
    else for (let r = 0; r < R; r++) y[r * nOut + j] += xin[r * nIn + i] * d;
  }
  return y;
}

/** The fault-free product shared by all chips (used with LayerChip.sparse); xin after layerInput. */
export function cleanProduct(xin: Float32Array, R: number, lp: LayerPlan, idealW: Float32Array, kernels: Kernels): Float32Array {
  const y = new Float32Array(R * lp.nOut);
  fillRows(y, idealW.subarray(lp.nIn * lp.nOut), R);
  kernels.sgemm(false, false, R, lp.nOut, lp.nIn, 1, xin, lp.nIn, idealW, lp.nOut, 1, y, lp.nOut);
  return y;
}

/**
 * Input DAC: clip to the calibrated range and round to 2^bits levels (signed inputs: symmetric),
 * plus its integral non-linearity (`inl` LSB at mid-code, converters.ts) when it has one.
 */
function dac(x: Float32Array, xMax: number, bits: number, signed: boolean, inl: number): Float32Array {
  const q = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const lo = signed ? -1 : 0;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = Math.min(1, Math.max(lo, x[i] / xMax));
    const k = Math.round(v * q);
    out[i] = inl > 0 ? (k / q + dacInl(signed ? k + q : k, signed ? 2 * q : q, inl, 1 / q)) * xMax : (k / q) * xMax;
  }
  return out;
}

/**
 * Each row tile's partial sums pass a signed ADC of the calibrated full scale before they are added;
 * with converter errors (converters.ts), through adcConvert.
 */
function tiledWithAdc(
  x: Float32Array,
  R: number,
  lp: LayerPlan,
  w: Float32Array,
  bits: number,
  kernels: Kernels,
  errors?: AdcErrors,
  noiseLsb = 0,
  rng: Rng | null = null,
): Float32Array {
  const { nIn, nOut } = lp;
  const y = new Float32Array(R * nOut);
  const part = new Float32Array(R * nOut);
  const q = 2 ** (bits - 1) - 1;
  lp.rowTiles.forEach((row, t) => {
    const { r0, r1 } = row[0];
    const inRows = Math.min(r1, nIn) - r0;
    part.fill(0);
    if (r1 > nIn) fillRows(part, w.subarray(nIn * nOut), R);
    if (inRows > 0) kernels.sgemm(false, false, R, nOut, inRows, 1, x.subarray(r0), nIn, w.subarray(r0 * nOut), nOut, 1, part, nOut);
    const fs = lp.adcFullScale[t];
    if (errors || (noiseLsb > 0 && rng))
      for (let i = 0, j = 0; i < part.length; i++, j = j + 1 === nOut ? 0 : j + 1)
        y[i] += adcConvert(part[i] / fs, q, errors, t * nOut + j, noiseLsb, rng) * fs;
    else for (let i = 0; i < part.length; i++) y[i] += (Math.round(Math.min(1, Math.max(-1, part[i] / fs)) * q) / q) * fs;
  });
  return y;
}

/**
 * Read noise: every cell read as G(1 + eta), eta ~ N(0, s^2), independently per inference. The sum
 * over a column of independent Gaussians is Gaussian with variance s^2 * sum_i x_i^2 (G+^2 + G-^2),
 * so one product of x^2 with the squared conductances (noiseVariance) gives the exact output
 * distribution without drawing a noise value per cell and per image. `v` is that product.
 */
function addReadNoise(y: Float32Array, v: Float32Array, s: number, rng: Rng): void {
  for (let i = 0; i < y.length; i++) y[i] += s * Math.sqrt(v[i]) * rng.normal();
}

/** (G+^2 + G-^2) of every weight in weight units^2 ([nIn + 1, nOut], as wEff), computed on first use. */
function noiseVariance(lc: LayerChip, lp: LayerPlan, dev: Device, plan: CrossbarPlan): Float32Array {
  if (lc.noiseVar) return lc.noiseVar;
  const { nOut } = lp;
  // Every cell of every slice read with its own noise; under the reference mapping a row's
  // reference cell is shared by the columns, which this per-column variance does not correlate.
  const span = dev.gMax - dev.gMin;
  const m = mappingOf(plan.circuit);
  const sig = significances(m);
  const n = lp.A.length;
  const nv = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const s = ((lp.colScale[i % nOut] * cellGain(m)) / span) * (lc.colGain?.[i % nOut] ?? 1);
    let v = 0;
    for (let k = 0; k < m.cells; k++) v += sig[k] ** 2 * ((lc.gPos[k * n + i] * s) ** 2 + (lc.gNeg[k * n + i] * s) ** 2);
    nv[i] = v;
  }
  lc.noiseVar = nv;
  return nv;
}

function squared(x: Float32Array): Float32Array {
  const x2 = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) x2[i] = x[i] * x[i];
  return x2;
}

/** Neuron, in place: the layer's activation, clipped at the rail where the circuit saturates. */
export function neuron(y: Float32Array, lp: LayerPlan, kernels: Kernels): Float32Array {
  const rail = lp.rail;
  const fn = lp.activation?.fn ?? 'linear';
  // ReLU and the rail in one pass: max(v, 0), then min(., rail).
  if (fn === 'relu') kernels.clamp(y, 0, rail);
  else {
    if (fn !== 'linear' && lp.activation) apply(fn, lp.activation.cap, y, y, lp.activation.alpha);
    if (Number.isFinite(rail)) kernels.clamp(y, -rail, rail);
  }
  return y;
}

export interface SimOptions {
  kernels: Kernels;
  /** Read-noise stream for this (chip, batch); null when the device has no read noise. */
  rng: Rng | null;
  /**
   * Start from activations entering model.layers[from.layer] (shared by all chips), and, when
   * given, that layer's product on this chip (productsOnChips), which is then used as it is.
   */
  from?: { layer: number; h: Activations; product?: Float32Array };
  /** Stop before model.layers[until] and return the activations entering it. */
  until?: number;
  /**
   * Output buffers of the weighted layers (by plan index), grown as needed and reused by every
   * call that passes the same array: a chip's outputs are then overwritten by the next chip's.
   */
  scratch?: (Float32Array | undefined)[];
}

/** n floats of scratch[i] (allocated, or grown, when missing or too small). */
export function scratchBuffer(scratch: (Float32Array | undefined)[], i: number, n: number): Float32Array {
  let b = scratch[i];
  if (!b || b.length < n) {
    b = new Float32Array(n);
    scratch[i] = b;
  }
  return b.subarray(0, n);
}

/**
 * Activations a simulation hands on: a graph model's pass stopped by `until` also carries the
 * outputs later nodes still read (a residual branch), for a pass resumed with `from`.
 */
export type Activations = Tensor & { values?: NodeValues };

/**
 * Runs a batch through the model with every weighted layer on the chip. Returns the last layer's
 * outputs in weight units (multiply by plan.voltsPerUnit for volts), or with `until` the
 * activations entering that layer. Graph models run in simulate-graph.ts.
 */
export function simulateBatch(
  model: Model,
  plan: CrossbarPlan,
  chip: LayerChip[],
  dev: Device,
  x: Float32Array,
  batch: number,
  opts: SimOptions,
): Activations {
  if (model.graph) return simulateGraphBatch(model, plan, chip, dev, x, batch, opts);
  const h: Tensor = opts.from?.h ?? { data: x, shape: [batch, ...model.spec.inputShape] };
  const first = opts.from?.layer ?? 0;
  const end = opts.until ?? model.layers.length;
  const blocks = imageBlocks(model, plan, first, end, batch, opts);
  if (!blocks) return runLayers(model, plan, chip, dev, h, first, end, opts, opts.from?.product);
  // The image layers in blocks of images whose outputs stay in cache, then the rest on the batch.
  const { stop, images } = blocks;
  const inPer = h.data.length / batch;
  const outShape = model.layers[stop - 1].outShape;
  const outPer = size(outShape);
  // In the pass's scratch when it has one (read before the next chip's pass), else its own.
  const joined = opts.scratch ? scratchBuffer(opts.scratch, plan.layers.length, batch * outPer) : new Float32Array(batch * outPer);
  const pre = opts.from?.product;
  const prePer = pre ? pre.length / batch : 0;
  for (let s = 0; s < batch; s += images) {
    const n = Math.min(images, batch - s);
    const part: Tensor = { data: h.data.subarray(s * inPer, (s + n) * inPer), shape: [n, ...h.shape.slice(1)] };
    const y = runLayers(model, plan, chip, dev, part, first, stop, opts, pre?.subarray(s * prePer, (s + n) * prePer));
    joined.set(y.data, s * outPer);
  }
  return runLayers(model, plan, chip, dev, { data: joined, shape: [batch, ...outShape] }, stop, end, opts);
}

/** The layers [first, end) of a sequential model on the batch h; `pre`: model.layers[first]'s product on this chip. */
function runLayers(
  model: Model,
  plan: CrossbarPlan,
  chip: LayerChip[],
  dev: Device,
  h0: Tensor,
  first: number,
  end: number,
  opts: SimOptions,
  pre?: Float32Array,
): Tensor {
  const ctx: Context = { kernels: opts.kernels, training: false };
  let h = h0;
  const batch = h.shape[0];
  let li = plan.layers.findIndex((lp) => lp.layerIndex >= first);
  for (let i = first; i < end; i++) {
    const layer = model.layers[i];
    const lp = plan.layers[li];
    if (lp && lp.layerIndex === i) {
      const y = weightedOnChip(layer, h.data, batch, li, lp, chip[li], dev, plan, opts, i === first ? pre : undefined);
      h = { data: y, shape: [batch, ...layer.outShape] };
      li++;
      if (model.layers[i + 1] instanceof Activation) i++; // applied by the neuron above
      continue;
    }
    h = layer.forward(h, ctx);
  }
  return h;
}

/** Floats of image-layer output per block of images: the block's largest map stays in L2. */
const BLOCK_FLOATS = 2 ** 17;

/**
 * Where a pass may run in blocks of images: from `first`, a run of at least two image layers
 * (convolutions run straight from their images, their activations, pooling), each computing every
 * image's output from that image alone with the same operations whatever the batch, so blocks
 * give the same bits. Their outputs then stay in cache from one layer to the next instead of
 * going through memory (LeNet-5's first convolution and pooling ~13% faster in blocks of 20
 * images: 18.8 MB per 1000 images). Dense layers keep the whole batch (a GEMM packs its weights
 * per call). Not with draws (read or ADC noise), whose order follows the batch.
 */
function imageBlocks(
  model: Model,
  plan: CrossbarPlan,
  first: number,
  end: number,
  batch: number,
  opts: SimOptions,
): { stop: number; images: number } | null {
  if (opts.rng || !convDirect(plan)) return null;
  let stop = first;
  let largest = 0;
  while (stop < end) {
    const layer = model.layers[stop];
    if (!(layer instanceof Conv2d || layer instanceof Activation || layer instanceof Pool2d)) break;
    largest = Math.max(largest, size(layer.outShape));
    stop++;
  }
  const images = Math.max(1, Math.floor(BLOCK_FLOATS / Math.max(1, largest)));
  if (stop - first < 2 || !(model.layers[first] instanceof Conv2d) || batch <= images) return null;
  return { stop, images };
}
