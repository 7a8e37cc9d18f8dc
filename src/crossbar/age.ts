import type { Kernels } from '../core/kernels.js';
import { jsKernels } from '../core/kernels-js.js';
import { Rng } from '../core/rng.js';
import { ageCells, drawCellAging, readTimeStream, targetCurves } from '../device/aging.js';
import type { Device } from '../device/config.js';
import { deviceAges } from '../device/program.js';
import { type Chip, type ChipBase, type LayerChip, toWeights, wiredWeights } from './chip.js';
import { cellAt, cellIndex, type Mapping, mappingOf, tieReference } from './mapping.js';
import type { CrossbarPlan, LayerPlan } from './plan.js';

/**
 * Drift compensation as deployed chips do it (Joshi et al. 2020; aihwkit's GlobalDriftCompensation):
 * right after programming, and again at read time, the periphery drives every row of an array at
 * full scale (the calibration input) and measures the current on every bit line; the ratio of the
 * two rescales the outputs digitally. 'global' uses one ratio per layer (the sum over all its bit
 * lines), 'column' one per output column (that column's G+ and G- bit lines).
 */
export type Compensation = 'none' | 'global' | 'column';

/** One read of a chip: t seconds after programming ended, with or without drift compensation. */
export interface ReadAt {
  t: number;
  compensation: Compensation;
}

/**
 * The chip as read at `read.t`: each layer's cells aged (relaxation, drift, accumulated 1/f noise;
 * stuck cells hold) from the chip as programmed, which it does not change, so one programmed chip
 * is aged to every time of a sweep. A device without a time model returns the chip itself.
 * `kernels` draw the per-read noise (the same bits on every kernel set).
 */
export function ageChip(
  plan: CrossbarPlan,
  dev: Device,
  base: ChipBase,
  seed: number,
  chip: Chip,
  read: ReadAt,
  kernels: Pick<Kernels, 'normalPairs' | 'expScaled'> = jsKernels,
): Chip {
  if (!deviceAges(dev)) return chip;
  return {
    index: chip.index,
    layers: plan.layers.map((lp, k) => ageLayer(lp, chip.layers[k], base.layers[k], dev, plan, seed, chip.index, read, kernels)),
  };
}

function ageLayer(
  lp: LayerPlan,
  lc: LayerChip,
  base: ChipBase['layers'][number],
  dev: Device,
  plan: CrossbarPlan,
  seed: number,
  index: number,
  read: ReadAt,
  kernels: Pick<Kernels, 'normalPairs' | 'expScaled'>,
): LayerChip {
  // The chip's own per-cell draws (nu, relaxation direction): from its stream 4, on first use.
  // The curves read off the targets are the same on every chip: computed once, on the shared base.
  base.curves ??= targetCurves(dev, base.gPos, base.gNeg);
  lc.aging ??= drawCellAging(dev, base.gPos, base.gNeg, lc.gPos, lc.gNeg, Rng.derive(seed, index, lp.weighted, 4), base.curves);
  // What every read of this programmed chip shares: its stuck cells and its calibration currents.
  const m = mappingOf(plan.circuit);
  lc.readBase ??= { stuck: stuckCells(lp, lc, m), ref: columnCurrents(lp.nOut, lc.gPos, lc.gNeg) };
  const { gPos, gNeg } = ageCells(
    dev,
    {
      tPos: base.gPos,
      tNeg: base.gNeg,
      gPos: lc.gPos,
      gNeg: lc.gNeg,
      aging: lc.aging,
      stuck: lc.readBase.stuck,
      curves: base.curves,
    },
    read.t,
    { stream: readTimeStream(seed, index, lp.weighted, read.t), kernels },
  );
  // One reference cell per row and array, aged once (its stand-in's draws).
  tieReference(lp, m, gNeg);
  const span = dev.gMax - dev.gMin;
  const rWire = plan.circuit.wireResistance;
  const wEff = rWire > 0 ? wiredWeights(lp, gPos, gNeg, rWire, span, m) : toWeights(gPos, gNeg, lp, span, m);
  const gain = compensationGain(read.compensation, lp.nOut, lc.gPos, lc.gNeg, gPos, gNeg, lc.readBase.ref);
  if (gain) for (let i = 0, j = 0; i < wEff.length; i++, j = j + 1 === lp.nOut ? 0 : j + 1) wEff[i] *= gain[j];
  return {
    gPos: new Float32Array(gPos),
    gNeg: new Float32Array(gNeg),
    wEff,
    faults: lc.faults,
    faultyCells: lc.faultyCells,
    sparse: null,
    colGain: gain ?? undefined,
    ...(lc.adc ? { adc: lc.adc } : {}),
  };
}

/**
 * The digital gain per output column that drift compensation applies: the calibration input's
 * bit-line currents right after programming over the same at read time (sums of G+ + G- over the
 * rows, as every row is driven at the same full-scale voltage). null without compensation.
 */
export function compensationGain(
  kind: Compensation,
  nOut: number,
  p0: ArrayLike<number>,
  n0: ArrayLike<number>,
  p1: ArrayLike<number>,
  n1: ArrayLike<number>,
  ref?: Float64Array,
): Float64Array | null {
  if (kind === 'none') return null;
  ref ??= columnCurrents(nOut, p0, n0);
  const now = columnCurrents(nOut, p1, n1);
  const gain = new Float64Array(nOut);
  if (kind === 'global') {
    let r = 0;
    let m = 0;
    for (let j = 0; j < nOut; j++) {
      r += ref[j];
      m += now[j];
    }
    gain.fill(m > 0 ? r / m : 1);
  } else for (let j = 0; j < nOut; j++) gain[j] = now[j] > 0 ? ref[j] / now[j] : 1;
  return gain;
}

/**
 * The calibration input's current on each output column: the sum of G+ + G- over the column's
 * cells, row by row (`ref` of compensationGain; pass it to spare the pass over the programmed cells).
 */
export function columnCurrents(nOut: number, p: ArrayLike<number>, n: ArrayLike<number>): Float64Array {
  const sum = new Float64Array(nOut);
  for (let i = 0, j = 0; i < p.length; i++, j = j + 1 === nOut ? 0 : j + 1) sum[j] += p[i] + n[i];
  return sum;
}

/**
 * Per cell slot (gPos/gNeg index), which of its two cells are stuck (bit 0: G+ or data cell, bit 1:
 * G- or the reference's stand-in), from the tiles' defect maps; null without faults.
 */
function stuckCells(lp: LayerPlan, lc: LayerChip, m: Mapping): Uint8Array | null {
  if (!lc.faults.some(Boolean)) return null;
  const mask = new Uint8Array(lc.gPos.length);
  lp.tiles.forEach((t, k) => {
    const map = lc.faults[k];
    if (!map) return;
    const w = t.c1 - t.c0;
    for (let r = 0; r < map.rows; r++)
      for (let pc = 0; pc < map.cols; pc++)
        if (map.kind[r * map.cols + pc]) {
          const at = cellAt(pc, w, m);
          mask[cellIndex(lp, t, r, at)] |= at.neg ? 2 : 1;
        }
  });
  return mask;
}
