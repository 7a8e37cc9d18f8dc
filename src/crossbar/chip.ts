import { Rng } from '../core/rng.js';
import type { Device } from '../device/config.js';
import { type FaultMap, type FaultSpec, generateFaultMap, STUCK_OFF, STUCK_ON } from '../faults/index.js';
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
}

export interface Chip {
  index: number;
  layers: LayerChip[];
}

/** Which fault patterns land on weighted layer `w`. */
export function patternsFor(spec: FaultSpec, w: number) {
  return spec.filter((s) => s.layers === 'all' || s.layers.includes(w)).flatMap((s) => s.patterns);
}

/** Target conductance pair for a normalised weight in [-1, 1], quantised to the device's levels. */
function targets(wn: number, d: Device): [number, number] {
  const span = d.gMax - d.gMin;
  let p = wn > 0 ? wn : 0;
  let n = wn < 0 ? -wn : 0;
  if (d.levels >= 2) {
    const q = d.levels - 1;
    p = Math.round(p * q) / q;
    n = Math.round(n * q) / q;
  }
  return [d.gMin + span * p, d.gMin + span * n];
}

/**
 * Programs one chip: ideal targets, then log-normal programming variation per cell, then the
 * stuck cells of each tile's fault map. Every draw comes from Rng.derive(seed, chip index, layer, stream),
 * so a chip is the same whatever else runs.
 */
export function programChip(plan: CrossbarPlan, device: Device, faults: FaultSpec, seed: number, index: number): Chip {
  // Separate streams for variation and defects: a chip keeps its defect map whatever the sigma.
  const layers = plan.layers.map((lp) =>
    programLayer(
      lp,
      device,
      patternsFor(faults, lp.weighted),
      Rng.derive(seed, index, lp.weighted, 1),
      Rng.derive(seed, index, lp.weighted, 2),
      plan.circuit.wireResistance,
    ),
  );
  return { index, layers };
}

const SPARSE_MAX_SHARE = 0.02;

function programLayer(
  lp: LayerPlan,
  d: Device,
  patterns: ReturnType<typeof patternsFor>,
  varRng: Rng,
  faultRng: Rng,
  rWire: number,
): LayerChip {
  const n = lp.A.length;
  const span = d.gMax - d.gMin;
  const { gPos, gNeg } = targetConductances(lp, d);
  // With resistive wires every cell affects every output: no sparse shortcut.
  const ideal = d.programSigma === 0 && rWire === 0 ? toWeights(gPos, gNeg, lp, span) : null;
  if (d.programSigma > 0) {
    const s = d.programSigma;
    for (let i = 0; i < n; i++) {
      gPos[i] *= Math.exp(s * varRng.normal());
      gNeg[i] *= Math.exp(s * varRng.normal());
    }
  }
  const faults = lp.tiles.map((t) => (patterns.length ? generateFaultMap(t.r1 - t.r0, 2 * (t.c1 - t.c0), patterns, faultRng) : null));
  const faulty = new Set<number>();
  lp.tiles.forEach((t, k) => {
    const map = faults[k];
    if (map) applyFaults(map, t, lp.nOut, gPos, gNeg, d, faultRng, faulty);
  });
  const wEff = rWire > 0 ? wiredWeights(lp, gPos, gNeg, rWire, span) : toWeights(gPos, gNeg, lp, span);
  let sparse: LayerChip['sparse'] = null;
  // The shortcut adds each stuck weight's change image by image: worth it only while few
  // weights are stuck (measured: at ~20% stuck weights a full product is ~6x faster).
  if (ideal && faulty.size <= SPARSE_MAX_SHARE * n) {
    const index = Int32Array.from([...faulty].sort((a, b) => a - b));
    const delta = new Float32Array(index.length);
    index.forEach((c, k) => {
      delta[k] = wEff[c] - ideal[c];
    });
    sparse = { index, delta };
  }
  return { gPos: Float32Array.from(gPos), gNeg: Float32Array.from(gNeg), wEff, faults, faultyCells: faulty.size, sparse };
}

function targetConductances(lp: LayerPlan, d: Device): { gPos: Float64Array; gNeg: Float64Array } {
  const gPos = new Float64Array(lp.A.length);
  const gNeg = new Float64Array(lp.A.length);
  for (let i = 0; i < lp.A.length; i++) [gPos[i], gNeg[i]] = targets(lp.A[i] / lp.colScale[i % lp.nOut], d);
  return { gPos, gNeg };
}

/** The weights a fault-free, variation-free chip computes: A itself, up to level quantisation. */
export function idealLayerWeights(lp: LayerPlan, d: Device): Float32Array {
  const { gPos, gNeg } = targetConductances(lp, d);
  return toWeights(gPos, gNeg, lp, d.gMax - d.gMin);
}

function applyFaults(
  map: FaultMap,
  t: Tile,
  nOut: number,
  gPos: Float64Array,
  gNeg: Float64Array,
  d: Device,
  rng: Rng,
  faulty: Set<number>,
) {
  for (let r = 0; r < map.rows; r++) {
    for (let pc = 0; pc < map.cols; pc++) {
      const k = map.kind[r * map.cols + pc];
      if (!k) continue;
      const cell = (t.r0 + r) * nOut + t.c0 + (pc >> 1);
      const range = k === STUCK_ON ? d.stuckOn : k === STUCK_OFF ? d.stuckOff : null;
      const g = range ? range[0] + (range[1] - range[0]) * rng.uniform() : d.gMin + (d.gMax - d.gMin) * map.level[r * map.cols + pc];
      if (pc & 1) gNeg[cell] = g;
      else gPos[cell] = g;
      faulty.add(cell);
    }
  }
}

/** What each tile computes with IR drop: (T+ - T-) * scale, T from the wire solver (wires.ts). */
function wiredWeights(lp: LayerPlan, gPos: Float64Array, gNeg: Float64Array, rWire: number, span: number): Float32Array {
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
function toWeights(gPos: Float64Array, gNeg: Float64Array, lp: LayerPlan, span: number): Float32Array {
  const w = new Float32Array(gPos.length);
  for (let i = 0; i < w.length; i++) w[i] = ((gPos[i] - gNeg[i]) * lp.colScale[i % lp.nOut]) / span;
  return w;
}
