import type { Circuit } from './circuit.js';
import type { LayerPlan, Tile } from './plan.js';

/**
 * How a weight sits on cells (circuit.mapping, circuit.cellsPerWeight, circuit.sliceBits).
 *
 * - 'differential': a weight is a pair G+ and G- on two bit lines; the periphery subtracts them.
 *   w = (G+ - G-) colScale / span.
 * - 'reference': one cell per weight, and one reference column per array whose cells all sit at
 *   mid-swing Gref = gMin + span / 2; the periphery subtracts the reference bit line's current from
 *   every data column. w = 2 (G - Gref) colScale / span. A weight near 0 then sits mid-range, so a
 *   stuck-on and a stuck-off cell move it by about the same amount (docs/faults.md).
 *
 * With N cells per weight (N pairs, or N data cells) each weight is spread over N slices s = 0..N-1
 * of significance sig_s (sum 1), each slice on its own cells and bit lines, combined in the
 * periphery: w = sum_s sig_s w_s. sliceBits 0 splits the weight equally (every slice holds w,
 * sig_s = 1/N: independent noise averages down); sliceBits K stores the weight as an N*K-bit number,
 * K bits per slice, least significant slice first (sig_s = 2^(K s) (2^K - 1) / (2^(N K) - 1)).
 *
 * A chip keeps each layer's cells as two arrays of N * (nIn + 1) * nOut conductances, slice-major
 * (slice s of weight i at s * n + i): gPos holds G+ (or the data cell), gNeg G- (or, under the
 * reference mapping, the reference cell of the weight's row and array, the same value for every
 * weight and slice of that row: see tieReference).
 *
 * Physical columns of an array holding weight columns c0..c1 (w = c1 - c0), used by fault maps,
 * the wire solver, SPICE and the cost model: differential, slice s of local weight column j at
 * 2 (j N + s) (G+) and 2 (j N + s) + 1 (G-); reference, at j N + s, and the reference column last,
 * at w N.
 */
export type MappingScheme = 'differential' | 'reference';

export interface Mapping {
  scheme: MappingScheme;
  cells: number;
  sliceBits: number;
}

/** The circuit's mapping; a circuit saved before mappings existed (no keys) is the single differential pair. */
export function mappingOf(c: Partial<Pick<Circuit, 'mapping' | 'cellsPerWeight' | 'sliceBits'>>): Mapping {
  return { scheme: c.mapping ?? 'differential', cells: c.cellsPerWeight ?? 1, sliceBits: c.sliceBits ?? 0 };
}

/** Weight columns one array of `arrayCols` physical columns holds. */
export function weightColsPerArray(arrayCols: number, m: Mapping): number {
  return m.scheme === 'reference' ? Math.floor((arrayCols - 1) / m.cells) : Math.floor(arrayCols / (2 * m.cells));
}

/** Physical columns an array uses for `w` weight columns (its cells in use: times the rows). */
export function physicalCols(w: number, m: Mapping): number {
  return m.scheme === 'reference' ? w * m.cells + 1 : 2 * w * m.cells;
}

/** Significance of each slice, least significant first; they sum to 1. */
export function significances(m: Mapping): Float64Array {
  const sig = new Float64Array(m.cells);
  if (m.sliceBits === 0) return sig.fill(1 / m.cells);
  const K = m.sliceBits;
  const total = 2 ** (K * m.cells) - 1;
  for (let s = 0; s < m.cells; s++) sig[s] = (2 ** (K * s) * (2 ** K - 1)) / total;
  return sig;
}

/** The factor from a cell difference in units of the swing to a weight in units of colScale. */
export function cellGain(m: Mapping): number {
  return m.scheme === 'reference' ? 2 : 1;
}

/**
 * The slice values v_s in [-1, 1] of a normalised weight wn in [-1, 1] (w / colScale), into `out`:
 * sum_s sig_s v_s = wn (exactly when split, to N*K bits when sliced). Differential slices carry the
 * weight's sign on every slice; reference slices store (wn + 1) / 2 in offset binary.
 */
export function sliceValues(wn: number, m: Mapping, out: Float64Array): void {
  if (m.sliceBits === 0) {
    out.fill(wn);
    return;
  }
  const K = m.sliceBits;
  const digit = 2 ** K - 1;
  const total = 2 ** (K * m.cells) - 1;
  const ref = m.scheme === 'reference';
  let D = Math.round((ref ? (wn + 1) / 2 : Math.abs(wn)) * total);
  for (let s = 0; s < m.cells; s++) {
    const d = D % 2 ** K;
    D = (D - d) / 2 ** K;
    out[s] = ref ? (2 * d) / digit - 1 : (wn < 0 ? -d : d) / digit;
  }
}

/** Where a physical column of a tile's fault map lands: the weight column (local), slice and side, or the reference column. */
export interface CellAt {
  /** Local weight column, or -1 for the reference column. */
  j: number;
  slice: number;
  /** The G- (differential) or reference cell. */
  neg: boolean;
}

export function cellAt(pc: number, w: number, m: Mapping): CellAt {
  if (m.scheme === 'reference') {
    if (pc === w * m.cells) return { j: -1, slice: 0, neg: true };
    return { j: Math.floor(pc / m.cells), slice: pc % m.cells, neg: false };
  }
  const k = pc >> 1;
  return { j: Math.floor(k / m.cells), slice: k % m.cells, neg: (pc & 1) === 1 };
}

/**
 * Under the reference mapping, makes every weight and slice of a (row, array) read that array's
 * reference cell, in place. The reference cell's value is whatever its stand-in, slice 0 of the
 * array's first weight column, drew: programming and aging treat gNeg cell by cell, and this keeps
 * one draw per physical reference cell. A no-op for the differential mapping.
 */
export function tieReference(lp: LayerPlan, m: Mapping, gNeg: Float64Array): void {
  if (m.scheme !== 'reference') return;
  const n = lp.A.length;
  for (const t of lp.tiles)
    for (let r = t.r0; r < t.r1; r++) {
      const v = gNeg[r * lp.nOut + t.c0];
      for (let s = 0; s < m.cells; s++) gNeg.fill(v, s * n + r * lp.nOut + t.c0, s * n + r * lp.nOut + t.c1);
    }
}

/** Index in gPos/gNeg of the cell behind a tile's physical column pc at tile row r (for the reference column: its stand-in). */
export function cellIndex(lp: LayerPlan, t: Tile, r: number, at: CellAt): number {
  const j = at.j < 0 ? 0 : at.j;
  return at.slice * lp.A.length + (t.r0 + r) * lp.nOut + t.c0 + j;
}
