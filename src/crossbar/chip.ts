import type { Kernels } from '../core/kernels.js';
import { jsKernels } from '../core/kernels-js.js';
import { Rng } from '../core/rng.js';
import type { CellAging } from '../device/aging.js';
import type { Device } from '../device/config.js';
import { programNoisePairs, programVaries } from '../device/program.js';
import { type FaultMap, generateFaultMap, STUCK_OFF, STUCK_ON } from '../faults/pattern.js';
import type { FaultSpec } from '../faults/spec.js';
import { type AdcErrors, drawAdcErrors } from './converters.js';
import type { CrossbarPlan, LayerPlan, Tile } from './plan.js';
import { wireTransfer } from './wires.js';

/** One layer as programmed on one chip. Conductances in siemens, [nIn + 1, nOut] row-major. */
export interface LayerChip {
  gPos: Float32Array;
  gNeg: Float32Array;
  /** What the circuit computes, in weight units: (G+ - G-) * colScale / (gMax - gMin). */
  wEff: Float32Array;
  /** Fault map of each tile (physical rows x 2 * weight columns; column 2j is G+, 2j+1 is G-), or null. */
  faults: (FaultMap | null)[];
  faultyCells: number;
  /** When the only chip-to-chip difference is faults: wEff - (fault-free wEff) at the faulty weights. */
  sparse: { index: Int32Array; delta: Float32Array } | null;
  /** (G+^2 + G-^2) in weight units^2, for read noise; filled on first use. */
  noiseVar?: Float32Array;
  /** The cells' drift exponents and relaxation directions (device/aging.ts), drawn on the first read at a time. */
  aging?: CellAging;
  /** Drift compensation's digital gain per output column, already in wEff (age.ts); read noise scales with it. */
  colGain?: Float64Array;
  /** This chip's static ADC offsets and gain errors (converters.ts), when the circuit has them. */
  adc?: AdcErrors;
}

export interface Chip {
  index: number;
  layers: LayerChip[];
}

/** Which fault patterns land on weighted layer `w`. */
export function patternsFor(spec: FaultSpec, w: number) {
  return spec.filter((s) => s.layers === 'all' || s.layers.includes(w)).flatMap((s) => s.patterns);
}

/**
 * What every chip of a run shares: each layer's target conductances (quantised) and the weights a
 * fault-free, variation-free chip computes. Computing them once per run instead of once per chip
 * is most of programming's cost when only stuck cells differ between chips.
 */
export interface ChipBase {
  layers: { gPos: Float64Array; gNeg: Float64Array; ideal: Float32Array }[];
}

export function chipBase(plan: CrossbarPlan, device: Device): ChipBase {
  const span = device.gMax - device.gMin;
  return {
    layers: plan.layers.map((lp) => {
      const { gPos, gNeg } = targetConductances(lp, device);
      return { gPos, gNeg, ideal: toWeights(gPos, gNeg, lp, span) };
    }),
  };
}

/**
 * Programs one chip: ideal targets, then log-normal programming variation per cell, then the
 * device's conductance-dependent programming noise (when it has one), then the stuck cells of
 * each tile's fault map. Every draw comes from Rng.derive(seed, chip index, layer, stream),
 * so a chip is the same whatever else runs, and on whichever kernels (they draw the same numbers).
 * Pass `base` (chipBase) when programming many chips.
 */
export function programChip(
  plan: CrossbarPlan,
  device: Device,
  faults: FaultSpec,
  seed: number,
  index: number,
  { base = chipBase(plan, device), kernels = jsKernels }: { base?: ChipBase; kernels?: Pick<Kernels, 'lognormalPairs'> } = {},
): Chip {
  // Separate streams for variation and defects: a chip keeps its defect map whatever the sigma.
  const layers = plan.layers.map((lp, k) => {
    const layer = programLayer(
      lp,
      base.layers[k],
      device,
      patternsFor(faults, lp.weighted),
      Rng.derive(seed, index, lp.weighted, 1),
      Rng.derive(seed, index, lp.weighted, 2),
      // Its own stream, drawn only by devices that have the model: older chips stay bit-identical.
      device.programNoise ? Rng.derive(seed, index, lp.weighted, 3) : null,
      plan.circuit.wireResistance,
      kernels,
    );
    // Its own stream (6), drawn only when the circuit has static ADC errors.
    const adc = drawAdcErrors(lp, plan.circuit, seed, index);
    if (adc) layer.adc = adc;
    return layer;
  });
  return { index, layers };
}

const SPARSE_MAX_SHARE = 0.02;

function programLayer(
  lp: LayerPlan,
  base: ChipBase['layers'][number],
  d: Device,
  patterns: ReturnType<typeof patternsFor>,
  varRng: Rng,
  faultRng: Rng,
  noiseRng: Rng | null,
  rWire: number,
  kernels: Pick<Kernels, 'lognormalPairs'>,
): LayerChip {
  const n = lp.A.length;
  const span = d.gMax - d.gMin;
  let gPos: Float64Array;
  let gNeg: Float64Array;
  if (d.programSigma > 0) {
    gPos = new Float64Array(n);
    gNeg = new Float64Array(n);
    // Most of programming's cost: three or four math functions per cell.
    kernels.lognormalPairs(base.gPos, base.gNeg, d.programSigma, varRng, gPos, gNeg);
  } else {
    gPos = base.gPos.slice();
    gNeg = base.gNeg.slice();
  }
  if (noiseRng) programNoisePairs(d, base.gPos, base.gNeg, gPos, gNeg, noiseRng);
  // With resistive wires every cell affects every output: no sparse shortcut.
  const ideal = !programVaries(d) && rWire === 0 ? base.ideal : null;
  const faults = lp.tiles.map((t) => (patterns.length ? generateFaultMap(t.r1 - t.r0, 2 * (t.c1 - t.c0), patterns, faultRng) : null));
  // Weights with a stuck cell (either of the pair), marked rather than kept in a Set: ~20% of a
  // large layer's weights at the usual random rates.
  const faulty = new Uint8Array(patterns.length ? n : 0);
  let nFaulty = 0;
  lp.tiles.forEach((t, k) => {
    const map = faults[k];
    if (map) nFaulty += applyFaults(map, t, lp.nOut, gPos, gNeg, d, faultRng, faulty);
  });
  const wEff = rWire > 0 ? wiredWeights(lp, gPos, gNeg, rWire, span) : toWeights(gPos, gNeg, lp, span);
  let sparse: LayerChip['sparse'] = null;
  // The shortcut adds each stuck weight's change image by image: worth it only while few
  // weights are stuck (measured: at ~20% stuck weights a full product is ~6x faster).
  if (ideal && nFaulty <= SPARSE_MAX_SHARE * n) {
    const index = new Int32Array(nFaulty);
    for (let i = 0, k = 0; k < nFaulty; i++) if (faulty[i]) index[k++] = i;
    const delta = new Float32Array(index.length);
    index.forEach((c, k) => {
      delta[k] = wEff[c] - ideal[c];
    });
    sparse = { index, delta };
  }
  return { gPos: new Float32Array(gPos), gNeg: new Float32Array(gNeg), wEff, faults, faultyCells: nFaulty, sparse };
}

function targetConductances(lp: LayerPlan, d: Device): { gPos: Float64Array; gNeg: Float64Array } {
  const n = lp.A.length;
  const gPos = new Float64Array(n);
  const gNeg = new Float64Array(n);
  const span = d.gMax - d.gMin;
  const q = d.levels >= 2 ? d.levels - 1 : 0;
  for (let i = 0; i < n; i++) {
    const wn = lp.A[i] / lp.colScale[i % lp.nOut];
    let p = wn > 0 ? wn : 0;
    let m = wn < 0 ? -wn : 0;
    if (q) {
      p = Math.round(p * q) / q;
      m = Math.round(m * q) / q;
    }
    gPos[i] = d.gMin + span * p;
    gNeg[i] = d.gMin + span * m;
  }
  return { gPos, gNeg };
}

/** The weights a fault-free, variation-free chip computes: A itself, up to level quantisation. */
export function idealLayerWeights(lp: LayerPlan, d: Device): Float32Array {
  const { gPos, gNeg } = targetConductances(lp, d);
  return toWeights(gPos, gNeg, lp, d.gMax - d.gMin);
}

/** Sets the stuck cells of one tile; returns how many weights became faulty (not already marked). */
function applyFaults(
  map: FaultMap,
  t: Tile,
  nOut: number,
  gPos: Float64Array,
  gNeg: Float64Array,
  d: Device,
  rng: Rng,
  faulty: Uint8Array,
): number {
  let added = 0;
  for (let r = 0; r < map.rows; r++) {
    for (let pc = 0; pc < map.cols; pc++) {
      const k = map.kind[r * map.cols + pc];
      if (!k) continue;
      const cell = (t.r0 + r) * nOut + t.c0 + (pc >> 1);
      const range = k === STUCK_ON ? d.stuckOn : k === STUCK_OFF ? d.stuckOff : null;
      const g = range ? range[0] + (range[1] - range[0]) * rng.uniform() : d.gMin + (d.gMax - d.gMin) * map.level[r * map.cols + pc];
      if (pc & 1) gNeg[cell] = g;
      else gPos[cell] = g;
      if (!faulty[cell]) {
        faulty[cell] = 1;
        added++;
      }
    }
  }
  return added;
}

/** What each tile computes with IR drop: (T+ - T-) * scale, T from the wire solver (wires.ts). */
export function wiredWeights(lp: LayerPlan, gPos: Float64Array, gNeg: Float64Array, rWire: number, span: number): Float32Array {
  const w = new Float32Array(gPos.length);
  for (const t of lp.tiles) {
    const rows = t.r1 - t.r0;
    const cols = 2 * (t.c1 - t.c0);
    const g = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < cols >> 1; j++) {
        const cell = (t.r0 + r) * lp.nOut + t.c0 + j;
        g[r * cols + 2 * j] = gPos[cell];
        g[r * cols + 2 * j + 1] = gNeg[cell];
      }
    const { T } = wireTransfer(g, rows, cols, rWire);
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < cols >> 1; j++)
        w[(t.r0 + r) * lp.nOut + t.c0 + j] = ((T[r * cols + 2 * j] - T[r * cols + 2 * j + 1]) * lp.colScale[t.c0 + j]) / span;
  }
  return w;
}

/** (G+ - G-) * colScale / span, in float64 before rounding so that an ideal chip reproduces the weights exactly. */
export function toWeights(gPos: Float64Array, gNeg: Float64Array, lp: LayerPlan, span: number): Float32Array {
  const w = new Float32Array(gPos.length);
  const nOut = lp.nOut;
  for (let i = 0, j = 0; i < w.length; i++, j = j + 1 === nOut ? 0 : j + 1) w[i] = ((gPos[i] - gNeg[i]) * lp.colScale[j]) / span;
  return w;
}
