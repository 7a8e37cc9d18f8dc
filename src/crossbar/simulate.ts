import { type Csr, type Kernels, toCsr } from '../core/kernels.js';
import type { Rng } from '../core/rng.js';
import type { Device } from '../device/config.js';
import { Activation, apply } from '../nn/activation.js';
import { Conv2d } from '../nn/conv.js';
import type { NodeValues } from '../nn/graph.js';
import type { Context } from '../nn/layer.js';
import type { Model } from '../nn/model.js';
import { fillRows, type Tensor } from '../nn/tensor.js';
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
  const y = pre ?? productOnChip({ xin, R }, lp, lc, plan, kernels, out, rng);
  if (noisy) addReadNoise(y, xin, R, lp, lc, dev, plan, kernels, rng);
  return y;
}

/** The layer's input as the word lines see it: through the DAC when it has one. */
export function layerInput(x: Float32Array, lp: LayerPlan, plan: CrossbarPlan): Float32Array {
  return plan.circuit.dacBits > 0 ? dac(x, lp.xMax, plan.circuit.dacBits, lp.signedInput, plan.circuit.dacInl) : x;
}

/** What the chips of a Monte Carlo chunk share at their first varying layer, for one image batch. */
export interface SharedInput {
  /** The unrolled input rows after the DAC (layerInput), [R, nIn]. */
  xin: Float32Array;
  R: number;
  /** The fault-free product, for chips with the stuck-cell shortcut (LayerChip.sparse). */
  clean?: Float32Array;
  /** xin's nonzeros, when sparse enough that a sparse product beats the GEMM (sharedInput). */
  csr?: Csr;
}

/** Below this share of nonzero inputs, and with at least SPARSE_MIN_OUT outputs, spmm beats sgemm (measured ~1.9x at MNIST's 19%). */
const SPARSE_MAX_DENSITY = 0.4;
const SPARSE_MIN_OUT = 32;

/** Prepares the input rows xin (after layerInput) of one layer for productOnChip on many chips. */
export function sharedInput(
  xin: Float32Array,
  lp: LayerPlan,
  plan: CrossbarPlan,
  kernels: Kernels,
  idealW: Float32Array | null,
): SharedInput {
  const R = xin.length / lp.nIn;
  const clean = idealW ? cleanProduct(xin, R, lp, idealW, kernels) : undefined;
  const adc = plan.circuit.adcBits > 0 && lp.rowTiles.length > 0;
  if (adc || lp.nOut < SPARSE_MIN_OUT) return { xin, R, clean };
  return { xin, R, clean, csr: toCsr(xin, R, lp.nIn, SPARSE_MAX_DENSITY) ?? undefined };
}

/**
 * Pre-activation outputs [R, nOut] of one layer on one chip for the shared input rows, without
 * read noise: what the Monte Carlo computes for the first layer that differs between chips. A
 * chip with the stuck-cell shortcut adds its few cells' change to the fault-free product. The
 * result goes into `out` (R * nOut floats, any content) when given, so that a Monte Carlo reuses
 * one buffer per layer instead of allocating and zeroing megabytes per chip. `rng` draws the ADC's
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
  const { xin, R } = s;
  if (s.clean && lc.sparse) return withStuckCells(s.clean, xin, R, nIn, nOut, lc.sparse);
  if (plan.circuit.adcBits > 0 && lp.rowTiles.length > 0)
    return tiledWithAdc(xin, R, lp, lc.wEff, plan.circuit.adcBits, kernels, lc.adc, plan.circuit.adcNoise, rng);
  const y = out ?? new Float32Array(R * nOut);
  if (y.length !== R * nOut) throw new RangeError(`productOnChip: out has ${y.length} floats, not ${R * nOut}`);
  fillRows(y, lc.wEff.subarray(nIn * nOut), R);
  if (s.csr) kernels.spmm(R, nOut, nIn, s.csr, lc.wEff, y);
  else kernels.sgemm(false, false, R, nOut, nIn, 1, xin, nIn, lc.wEff, nOut, 1, y, nOut);
  return y;
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
 * so one GEMM of x^2 with the squared conductances gives the exact output distribution without
 * drawing a noise value per cell and per image.
 */
function addReadNoise(
  y: Float32Array,
  x: Float32Array,
  R: number,
  lp: LayerPlan,
  lc: LayerChip,
  dev: Device,
  plan: CrossbarPlan,
  kernels: Kernels,
  rng: Rng,
): void {
  const { nIn, nOut } = lp;
  if (!lc.noiseVar) {
    // Every cell of every slice read with its own noise; under the reference mapping a row's
    // reference cell is shared by the columns, which this per-column variance does not correlate.
    const span = dev.gMax - dev.gMin;
    const m = mappingOf(plan.circuit);
    const sig = significances(m);
    const n = lp.A.length;
    lc.noiseVar = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const s = ((lp.colScale[i % nOut] * cellGain(m)) / span) * (lc.colGain?.[i % nOut] ?? 1);
      let v = 0;
      for (let k = 0; k < m.cells; k++) v += sig[k] ** 2 * ((lc.gPos[k * n + i] * s) ** 2 + (lc.gNeg[k * n + i] * s) ** 2);
      lc.noiseVar[i] = v;
    }
  }
  const x2 = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) x2[i] = x[i] * x[i];
  const v = new Float32Array(R * nOut);
  fillRows(v, lc.noiseVar.subarray(nIn * nOut), R);
  kernels.sgemm(false, false, R, nOut, nIn, 1, x2, nIn, lc.noiseVar, nOut, 1, v, nOut);
  const s = dev.readNoise;
  for (let i = 0; i < y.length; i++) y[i] += s * Math.sqrt(v[i]) * rng.normal();
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

const NO_ROWS = new Float32Array(0);

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
  const ctx: Context = { kernels: opts.kernels, training: false };
  let h: Tensor = opts.from?.h ?? { data: x, shape: [batch, ...model.spec.inputShape] };
  const first = opts.from?.layer ?? 0;
  const end = opts.until ?? model.layers.length;
  let li = plan.layers.findIndex((lp) => lp.layerIndex >= first);
  for (let i = first; i < end; i++) {
    const layer = model.layers[i];
    const lp = plan.layers[li];
    if (lp && lp.layerIndex === i) {
      const pre = i === first ? opts.from?.product : undefined;
      // With the product given, the unrolled input is only needed for read noise.
      const needRows = !pre || (dev.readNoise > 0 && opts.rng);
      const rows = !needRows ? NO_ROWS : layer instanceof Conv2d ? layer.im2col(h.data, batch, opts.kernels) : h.data;
      const R = pre ? pre.length / lp.nOut : rows.length / lp.nIn;
      const out = opts.scratch && !pre ? scratchBuffer(opts.scratch, li, R * lp.nOut) : undefined;
      const y = neuron(crossbarLayer(rows, R, lp, chip[li], dev, plan, opts.kernels, opts.rng, pre, out), lp, opts.kernels);
      h = { data: y, shape: [batch, ...layer.outShape] };
      li++;
      if (model.layers[i + 1] instanceof Activation) i++; // applied by the neuron above
      continue;
    }
    h = layer.forward(h, ctx);
  }
  return h;
}
