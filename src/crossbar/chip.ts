import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { jsKernels } from '../core/kernels-js.js';
import { type PhiloxStream, philoxStream } from '../core/philox.js';
import { Rng } from '../core/rng.js';
import type { CellAging, TargetCurves } from '../device/aging.js';
import type { Device } from '../device/config.js';
import { programNoisePairs, programVaries } from '../device/program.js';
import { type FaultMap, generateFaultMap, STUCK_OFF, STUCK_ON } from '../faults/pattern.js';
import type { FaultSpec } from '../faults/spec.js';
import { type AdcErrors, drawAdcErrors } from './converters.js';
import { cellAt, cellGain, cellIndex, type Mapping, mappingOf, physicalCols, significances, sliceValues, tieReference } from './mapping.js';
import type { CrossbarPlan, LayerPlan, Tile } from './plan.js';
import { wireTransfer } from './wires.js';

/**
 * One layer as programmed on one chip. Conductances in siemens, N slices of [nIn + 1, nOut] row-major
 * (N cells per weight; gNeg is G-, or the reference cell under the reference mapping: mapping.ts).
 */
export interface LayerChip {
  gPos: Float32Array;
  gNeg: Float32Array;
  /** What the circuit computes, in weight units: sum_s sig_s (G+ - G-) * gain * colScale / (gMax - gMin) (mapping.ts). */
  wEff: Float32Array;
  /** Fault map of each tile (physical rows x physical columns, laid out as mapping.ts says), or null. */
  faults: (FaultMap | null)[];
  faultyCells: number;
  /** When the only chip-to-chip difference is faults: wEff - (fault-free wEff) at the faulty weights. */
  sparse: { index: Int32Array; delta: Float32Array } | null;
  /** (G+^2 + G-^2) in weight units^2, for read noise; filled on first use. */
  noiseVar?: Float32Array;
  /** The cells' drift exponents and relaxation directions (device/aging.ts), drawn on the first read at a time. */
  aging?: CellAging;
  /** What every read time of the chip shares (age.ts): stuck cells per slot, calibration currents per column. */
  readBase?: { stuck: Uint8Array | null; ref: Float64Array };
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

/** The measured defect maps (faults/map-file.ts) that land on array `k` of weighted layer `w`, with their files. */
function mapsFor(spec: FaultSpec, w: number, k: number): { source: string; map: FaultMap }[] {
  return spec
    .filter((s) => s.maps && (s.layers === 'all' || s.layers.includes(w)))
    .flatMap((s) =>
      (s.maps?.arrays ?? [])
        .filter((a) => (a.layer === undefined || a.layer === w) && (a.array === undefined || a.array === k))
        .map((a) => ({ source: s.maps?.source ?? '', map: a.map })),
    );
}

/** Whether weighted layer `w` gets any stuck cell from the spec (patterns or measured maps). */
export function hasFaults(spec: FaultSpec, w: number): boolean {
  return spec.some((s) => (s.layers === 'all' || s.layers.includes(w)) && (s.patterns.length > 0 || (s.maps?.arrays.length ?? 0) > 0));
}

/**
 * Throws one line naming the first array whose measured defect map has the wrong size, and the
 * size it needs (rows x physical columns, as the mapping lays the array out). Run before a
 * simulation so that a wrong map fails at once, not in a worker.
 */
export function checkFaultMaps(plan: CrossbarPlan, spec: FaultSpec): void {
  const m = mappingOf(plan.circuit);
  for (const lp of plan.layers)
    lp.tiles.forEach((t, k) => {
      measuredMap(lp, t, k, m, spec);
    });
}

/** The measured maps of array k of a layer merged (the first file wins a cell), or null; checks their size. */
function measuredMap(lp: LayerPlan, t: Tile, k: number, m: Mapping, spec: FaultSpec): FaultMap | null {
  const maps = mapsFor(spec, lp.weighted, k);
  if (!maps.length) return null;
  const rows = t.r1 - t.r0;
  const cols = physicalCols(t.c1 - t.c0, m);
  const out: FaultMap = { rows, cols, kind: new Uint8Array(rows * cols), level: new Float32Array(rows * cols) };
  for (const { source, map } of maps) {
    if (map.rows !== rows || map.cols !== cols)
      throw new XbarError(
        `defect map ${source} is ${map.rows}x${map.cols} but layer ${lp.weighted}'s array ${k} (weight rows ${t.r0}-${t.r1 - 1}, ` +
          `weight columns ${t.c0}-${t.c1 - 1}) is ${rows}x${cols} (rows x physical columns): give a ${rows}x${cols} map for it, ` +
          'or bind the file to the layers it fits with @layers=',
      );
    for (let i = 0; i < rows * cols; i++)
      if (!out.kind[i] && map.kind[i]) {
        out.kind[i] = map.kind[i];
        out.level[i] = map.level[i];
      }
  }
  return out;
}

/**
 * What every chip of a run shares: each layer's target conductances (quantised) and the weights a
 * fault-free, variation-free chip computes. Computing them once per run instead of once per chip
 * is most of programming's cost when only stuck cells differ between chips.
 */
export interface ChipBase {
  /** pos32, neg32: gPos, gNeg rounded to float (what a chip keeps), for chips that start from the targets. */
  layers: {
    gPos: Float64Array;
    gNeg: Float64Array;
    pos32: Float32Array;
    neg32: Float32Array;
    ideal: Float32Array;
    curves?: TargetCurves;
  }[];
}

export function chipBase(plan: CrossbarPlan, device: Device): ChipBase {
  const span = device.gMax - device.gMin;
  const m = mappingOf(plan.circuit);
  return {
    layers: plan.layers.map((lp) => {
      const { gPos, gNeg } = targetConductances(lp, device, m);
      return { gPos, gNeg, pos32: new Float32Array(gPos), neg32: new Float32Array(gNeg), ideal: toWeights(gPos, gNeg, lp, span, m) };
    }),
  };
}

/**
 * Programs one chip: ideal targets, then log-normal programming variation per cell, then the
 * device's conductance-dependent programming noise (when it has one), then the stuck cells of
 * each tile's fault map. Every draw comes from a stream named by (seed, chip index, layer, stream):
 * the variation from the Philox stream philoxStream(...) (since 0.2; sfc32 before, see CHANGELOG.md),
 * the rest from Rng.derive(...), so a chip is the same whatever else runs, and on whichever kernels
 * (they draw the same numbers).
 * Pass `base` (chipBase) when programming many chips.
 */
export function programChip(
  plan: CrossbarPlan,
  device: Device,
  faults: FaultSpec,
  seed: number,
  index: number,
  {
    base = chipBase(plan, device),
    kernels = jsKernels,
    scratch,
  }: { base?: ChipBase; kernels?: Pick<Kernels, 'lognormalPairs'>; scratch?: ProgramScratch } = {},
): Chip {
  // Separate streams for variation and defects: a chip keeps its defect map whatever the sigma.
  const layers = plan.layers.map((lp, k) => {
    const layer = programLayer(
      lp,
      base.layers[k],
      device,
      patternsFor(faults, lp.weighted),
      faults,
      // Variation from a counter-based stream (stream 1): any kernel, thread or worker draws it alike.
      philoxStream(seed, index, lp.weighted, 1),
      Rng.derive(seed, index, lp.weighted, 2),
      // Its own stream, drawn only by devices that have the model: older chips stay bit-identical.
      device.programNoise ? Rng.derive(seed, index, lp.weighted, 3) : null,
      plan.circuit.wireResistance,
      mappingOf(plan.circuit),
      kernels,
      scratch,
    );
    // Its own stream (6), drawn only when the circuit has static ADC errors.
    const adc = drawAdcErrors(lp, plan.circuit, seed, index);
    if (adc) layer.adc = adc;
    return layer;
  });
  return { index, layers };
}

const SPARSE_MAX_SHARE = 0.02;

/**
 * Working conductances (float64) reused from one programChip call to the next: a chip keeps only
 * their float32 copies, so a run programming many chips need not allocate and zero ~4 MB per `mlp`
 * chip. One per thread of work (a chip's arrays are overwritten by the next chip's).
 */
export class ProgramScratch {
  private pos = new Float64Array(0);
  private neg = new Float64Array(0);

  /** Two arrays of n floats (any content), valid until the next call. */
  pair(n: number): { gPos: Float64Array; gNeg: Float64Array } {
    if (this.pos.length < n) {
      this.pos = new Float64Array(n);
      this.neg = new Float64Array(n);
    }
    return { gPos: this.pos.subarray(0, n), gNeg: this.neg.subarray(0, n) };
  }
}

function programLayer(
  lp: LayerPlan,
  base: ChipBase['layers'][number],
  d: Device,
  patterns: ReturnType<typeof patternsFor>,
  spec: FaultSpec,
  variation: PhiloxStream,
  faultRng: Rng,
  noiseRng: Rng | null,
  rWire: number,
  m: Mapping,
  kernels: Pick<Kernels, 'lognormalPairs'>,
  scratch: ProgramScratch | undefined,
): LayerChip {
  const n = lp.A.length;
  const cells = base.gPos.length;
  const span = d.gMax - d.gMin;
  // Every cell is written below (the draw, or the targets copied) before any is read.
  const { gPos, gNeg } = scratch ? scratch.pair(cells) : { gPos: new Float64Array(cells), gNeg: new Float64Array(cells) };
  if (d.programSigma > 0) {
    // Most of programming's cost: three or four math functions per cell.
    kernels.lognormalPairs(base.gPos, base.gNeg, d.programSigma, variation, gPos, gNeg);
  } else {
    gPos.set(base.gPos);
    gNeg.set(base.gNeg);
  }
  if (noiseRng) programNoisePairs(d, base.gPos, base.gNeg, gPos, gNeg, noiseRng);
  tieReference(lp, m, gNeg);
  // With resistive wires every cell affects every output: no sparse shortcut.
  const ideal = !programVaries(d) && rWire === 0 ? base.ideal : null;
  // Measured maps first (their cells as given), then the patterns on the cells still healthy.
  const faults = lp.tiles.map((t, k) => {
    const measured = measuredMap(lp, t, k, m, spec);
    if (!patterns.length) return measured;
    return generateFaultMap(t.r1 - t.r0, physicalCols(t.c1 - t.c0, m), patterns, faultRng, measured ?? undefined);
  });
  // Weights with a stuck cell (either of the pair), marked rather than kept in a Set (~20% of a
  // large layer's weights at the usual random rates), and listed in the order they were found.
  const any = faults.some(Boolean);
  const faulty: FaultyWeights = { mark: new Uint8Array(any ? n : 0), list: new Int32Array(any ? n : 0), count: 0 };
  lp.tiles.forEach((t, k) => {
    const map = faults[k];
    if (map) applyFaults(map, lp, t, m, gPos, gNeg, d, faultRng, faulty);
  });
  const nFaulty = faulty.count;
  if (nFaulty) tieReference(lp, m, gNeg);
  let wEff: Float32Array;
  let pos32: Float32Array;
  let neg32: Float32Array;
  if (ideal) {
    // Without variation or wires a healthy weight's cells are its targets: start from the
    // fault-free chip and redo only the weights with a stuck cell (every cell of them, every
    // slice), with the same arithmetic, so the same bits as converting every weight (~5x less
    // work at the usual random rates, where ~20% of the weights have a stuck cell).
    wEff = ideal.slice();
    pos32 = base.pos32.slice();
    neg32 = base.neg32.slice();
    if (nFaulty) {
      toWeights(gPos, gNeg, lp, span, m, { w: wEff, list: faulty.list, count: nFaulty });
      for (let s = 0; s < m.cells; s++)
        for (let k = 0; k < nFaulty; k++) {
          const c = s * n + faulty.list[k];
          pos32[c] = gPos[c];
          neg32[c] = gNeg[c];
        }
    }
  } else {
    wEff = rWire > 0 ? wiredWeights(lp, gPos, gNeg, rWire, span, m) : toWeights(gPos, gNeg, lp, span, m);
    pos32 = new Float32Array(gPos);
    neg32 = new Float32Array(gNeg);
  }
  let sparse: LayerChip['sparse'] = null;
  // The shortcut adds each stuck weight's change image by image: worth it only while few
  // weights are stuck (measured: at ~20% stuck weights a full product is ~6x faster).
  if (ideal && nFaulty <= SPARSE_MAX_SHARE * n) {
    const index = new Int32Array(nFaulty);
    for (let i = 0, k = 0; k < nFaulty; i++) if (faulty.mark[i]) index[k++] = i;
    const delta = new Float32Array(index.length);
    index.forEach((c, k) => {
      delta[k] = wEff[c] - ideal[c];
    });
    sparse = { index, delta };
  }
  return { gPos: pos32, gNeg: neg32, wEff, faults, faultyCells: nFaulty, sparse };
}

/** Target conductances of every slice's cells (mapping.ts), quantised to the device's levels. */
function targetConductances(lp: LayerPlan, d: Device, mp: Mapping): { gPos: Float64Array; gNeg: Float64Array } {
  const n = lp.A.length;
  const gPos = new Float64Array(n * mp.cells);
  const gNeg = new Float64Array(n * mp.cells);
  const span = d.gMax - d.gMin;
  const q = d.levels >= 2 ? d.levels - 1 : 0;
  const level = (u: number) => (q ? Math.round(u * q) / q : u);
  const ref = mp.scheme === 'reference';
  const v = new Float64Array(mp.cells);
  for (let i = 0; i < n; i++) {
    const wn = lp.A[i] / lp.colScale[i % lp.nOut];
    if (mp.cells === 1) v[0] = wn;
    else sliceValues(wn, mp, v);
    for (let s = 0; s < mp.cells; s++) {
      const k = s * n + i;
      if (ref) {
        // One cell from gMin (w = -colScale) to gMax (w = +colScale); the reference sits mid-swing.
        gPos[k] = d.gMin + span * level((1 + v[s]) / 2);
        gNeg[k] = d.gMin + span / 2;
      } else {
        gPos[k] = d.gMin + span * level(v[s] > 0 ? v[s] : 0);
        gNeg[k] = d.gMin + span * level(v[s] < 0 ? -v[s] : 0);
      }
    }
  }
  return { gPos, gNeg };
}

/** The weights a fault-free, variation-free chip computes: A itself, up to level quantisation and slicing. */
export function idealLayerWeights(lp: LayerPlan, d: Device, circuit: CrossbarPlan['circuit']): Float32Array {
  const m = mappingOf(circuit);
  const { gPos, gNeg } = targetConductances(lp, d, m);
  return toWeights(gPos, gNeg, lp, d.gMax - d.gMin, m);
}

/** Weights with a stuck cell: marked, and the first `count` of `list` in the order they were marked. */
interface FaultyWeights {
  mark: Uint8Array;
  list: Int32Array;
  count: number;
}

/**
 * Sets the stuck cells of one tile (a stuck reference cell on its stand-in: tieReference spreads it),
 * marking and listing the weights that became faulty (not already marked).
 */
function applyFaults(
  map: FaultMap,
  lp: LayerPlan,
  t: Tile,
  m: Mapping,
  gPos: Float64Array,
  gNeg: Float64Array,
  d: Device,
  rng: Rng,
  faulty: FaultyWeights,
): void {
  const { mark, list } = faulty;
  let added = faulty.count;
  const w = t.c1 - t.c0;
  const { rows, cols, kind, level } = map;
  // Where each physical column lands (cellAt, cellIndex less the row), once per tile rather than
  // once per stuck cell: ~45k stuck cells per `mlp` chip at the usual random rates.
  const colJ = new Int32Array(cols);
  const colCell = new Int32Array(cols);
  const colNeg = new Uint8Array(cols);
  for (let pc = 0; pc < cols; pc++) {
    const at = cellAt(pc, w, m);
    colJ[pc] = at.j;
    colNeg[pc] = at.neg ? 1 : 0;
    colCell[pc] = cellIndex(lp, t, 0, at) - t.r0 * lp.nOut;
  }
  const [on0, on1] = d.stuckOn;
  const [off0, off1] = d.stuckOff;
  const gMin = d.gMin;
  const span = d.gMax - d.gMin;
  for (let r = 0; r < rows; r++) {
    const rowCell = (t.r0 + r) * lp.nOut;
    const row = rowCell + t.c0;
    for (let pc = 0, i = r * cols; pc < cols; pc++, i++) {
      const k = kind[i];
      if (!k) continue;
      // Stuck-on and stuck-off cells draw their conductance in the map's row-major order.
      const g =
        k === STUCK_ON
          ? on0 + (on1 - on0) * rng.uniform()
          : k === STUCK_OFF
            ? off0 + (off1 - off0) * rng.uniform()
            : gMin + span * level[i];
      if (colNeg[pc]) gNeg[rowCell + colCell[pc]] = g;
      else gPos[rowCell + colCell[pc]] = g;
      const j = colJ[pc];
      if (j >= 0) {
        if (!mark[row + j]) {
          mark[row + j] = 1;
          list[added++] = row + j;
        }
      } else
        for (let jj = 0; jj < w; jj++)
          if (!mark[row + jj]) {
            mark[row + jj] = 1;
            list[added++] = row + jj;
          }
    }
  }
  faulty.count = added;
}

/**
 * What each tile computes with IR drop: the toWeights sum over each weight's cells with every cell's
 * G replaced by its effective transfer T from the wire solver (wires.ts), over the tile's physical
 * columns as mapping.ts lays them out.
 */
export function wiredWeights(lp: LayerPlan, gPos: Float64Array, gNeg: Float64Array, rWire: number, span: number, m: Mapping): Float32Array {
  const n = lp.A.length;
  const tPos = new Float64Array(gPos.length);
  const tNeg = new Float64Array(gNeg.length);
  for (const t of lp.tiles) {
    const rows = t.r1 - t.r0;
    const w = t.c1 - t.c0;
    const cols = physicalCols(w, m);
    const g = new Float64Array(rows * cols);
    const where = Array.from({ length: cols }, (_, pc) => cellAt(pc, w, m));
    for (let r = 0; r < rows; r++)
      for (let pc = 0; pc < cols; pc++) {
        const at = where[pc];
        const cell = cellIndex(lp, t, r, at);
        g[r * cols + pc] = at.neg ? gNeg[cell] : gPos[cell];
      }
    const { T } = wireTransfer(g, rows, cols, rWire);
    for (let r = 0; r < rows; r++)
      for (let pc = 0; pc < cols; pc++) {
        const at = where[pc];
        const v = T[r * cols + pc];
        if (at.j >= 0) (at.neg ? tNeg : tPos)[cellIndex(lp, t, r, at)] = v;
        // The reference column's transfer, for every weight and slice of the row.
        else for (let s = 0; s < m.cells; s++) tNeg.fill(v, s * n + (t.r0 + r) * lp.nOut + t.c0, s * n + (t.r0 + r) * lp.nOut + t.c1);
      }
  }
  return toWeights(tPos, tNeg, lp, span, m);
}

/**
 * sum_s sig_s (G+_s - G-_s) * gain * colScale / span (mapping.ts), in float64 before rounding so that
 * an ideal chip reproduces the weights exactly.
 */
export function toWeights(
  gPos: Float64Array,
  gNeg: Float64Array,
  lp: LayerPlan,
  span: number,
  m: Mapping,
  only?: { w: Float32Array; list: Int32Array; count: number },
): Float32Array {
  const n = lp.A.length;
  const nOut = lp.nOut;
  const gain = cellGain(m);
  const sig = significances(m);
  if (only) {
    // Just the listed weights, into only.w (the others are left as they are): the same sums.
    const { w, list, count } = only;
    for (let k = 0; k < count; k++) {
      const i = list[k];
      const j = i % nOut;
      if (m.cells === 1) w[i] = ((gPos[i] - gNeg[i]) * gain * lp.colScale[j]) / span;
      else {
        let d = 0;
        for (let s = 0; s < m.cells; s++) d += sig[s] * (gPos[s * n + i] - gNeg[s * n + i]);
        w[i] = (d * gain * lp.colScale[j]) / span;
      }
    }
    return w;
  }
  const w = new Float32Array(n);
  if (m.cells === 1) {
    for (let i = 0, j = 0; i < n; i++, j = j + 1 === nOut ? 0 : j + 1) w[i] = ((gPos[i] - gNeg[i]) * gain * lp.colScale[j]) / span;
    return w;
  }
  for (let i = 0, j = 0; i < n; i++, j = j + 1 === nOut ? 0 : j + 1) {
    let d = 0;
    for (let s = 0; s < m.cells; s++) d += sig[s] * (gPos[s * n + i] - gNeg[s * n + i]);
    w[i] = (d * gain * lp.colScale[j]) / span;
  }
  return w;
}
