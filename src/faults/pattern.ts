import type { Rng } from '../core/rng.js';
import type { PatternSpec } from './schema.js';

/** Cell states of a fault map. The numbers are stored in FaultMap.kind. */
export const NONE = 0;
export const STUCK_ON = 1;
export const STUCK_OFF = 2;
export const STUCK_AT = 3;
export type FaultKindName = 'stuck-on' | 'stuck-off' | 'stuck-at';
export const faultKindCode: Record<FaultKindName, number> = { 'stuck-on': STUCK_ON, 'stuck-off': STUCK_OFF, 'stuck-at': STUCK_AT };
export const faultKindName = ['none', 'stuck-on', 'stuck-off', 'stuck-at'] as const;

/**
 * Stuck cells of one physical array: rows x cols, row-major. `level` is where a stuck-at cell
 * sits, as a fraction of the device's Gmin..Gmax range (0 for the other kinds).
 */
export interface FaultMap {
  rows: number;
  cols: number;
  kind: Uint8Array;
  level: Float32Array;
}

/** Whether cell (r, c) lies in the pattern's region (not used by random and the gradients). */
export function inRegion(p: PatternSpec, r: number, c: number, rows: number, cols: number): boolean {
  const u = (c + 0.5) / cols;
  const v = (r + 0.5) / rows;
  switch (p.pattern) {
    case 'circle':
      return Math.hypot(u - p.cx, v - p.cy) <= p.radius;
    case 'circle-complement':
      return Math.hypot(u - p.cx, v - p.cy) > p.radius;
    case 'ring': {
      const d = Math.hypot(u - p.cx, v - p.cy);
      return d >= p.radius - p.width / 2 && d <= p.radius + p.width / 2;
    }
    case 'rows':
      return bandHas(r, rows, p.from, p.to, p.every);
    case 'columns':
      return bandHas(c, cols, p.from, p.to, p.every);
    case 'checkerboard':
      return (Math.floor(r / p.block) + Math.floor(c / p.block)) % 2 === 0;
    default:
      return true;
  }
}

/** Index i of n is in the band [from, to) of relative positions, taking every `every`-th from its start. */
function bandHas(i: number, n: number, from: number, to: number, every: number): boolean {
  const first = Math.ceil(from * n - 0.5);
  const pos = (i + 0.5) / n;
  return pos >= from && pos < to && (i - first) % every === 0;
}

/**
 * Draws a fault map. Each pattern marks exactly round(rate x eligible cells) cells, chosen
 * uniformly without replacement among its region's cells not already stuck, so the realised
 * rate is the requested one (not just in expectation). Patterns apply in order; a cell keeps
 * the first fault it gets.
 */
export function generateFaultMap(rows: number, cols: number, patterns: readonly PatternSpec[], rng: Rng, start?: FaultMap): FaultMap {
  // `start`: cells already stuck (a measured map), kept; the patterns draw among the others.
  const map: FaultMap = start
    ? { rows, cols, kind: start.kind.slice(), level: start.level.slice() }
    : { rows, cols, kind: new Uint8Array(rows * cols), level: new Float32Array(rows * cols) };
  for (const p of patterns) applyPattern(map, p, rng);
  return map;
}

function applyPattern(map: FaultMap, p: PatternSpec, rng: Rng): void {
  const { rows, cols } = map;
  if (p.pattern === 'random') {
    const free = freeCells(map);
    // One shuffle of the free cells, then consecutive slices: the three kinds never overlap.
    const total = free.length;
    const n1 = Math.round(p.sa1 * rows * cols);
    const n0 = Math.round(p.sa0 * rows * cols);
    const nAt = Math.round(p.stuckAt * rows * cols);
    const chosen = sample(free, Math.min(total, n1 + n0 + nAt), rng);
    mark(map, chosen.subarray(0, n1), STUCK_ON, 0);
    mark(map, chosen.subarray(n1, n1 + n0), STUCK_OFF, 0);
    mark(map, chosen.subarray(n1 + n0), STUCK_AT, p.level);
    return;
  }
  const code = faultKindCode[p.kind];
  const level = p.kind === 'stuck-at' ? p.level : 0;
  if (p.pattern === 'row-gradient' || p.pattern === 'column-gradient') {
    // Density rises linearly from `min` at the first row (column) to `density` at the last. Counts
    // carry their rounding over to the next line, so the whole pattern hits its mean rate exactly.
    const alongRows = p.pattern === 'row-gradient';
    const lines = alongRows ? rows : cols;
    const lineCells = alongRows ? cols : rows;
    let cum = 0;
    let marked = 0;
    for (let i = 0; i < lines; i++) {
      cum += (lines === 1 ? p.density : p.min + ((p.density - p.min) * i) / (lines - 1)) * lineCells;
      const free = freeCells(map, (r, c) => (alongRows ? r : c) === i);
      const k = Math.min(free.length, Math.max(0, Math.round(cum) - marked));
      mark(map, sample(free, k, rng), code, level);
      marked += k;
    }
    return;
  }
  const region = regionCells(p, rows, cols);
  const free = region.filter((i) => map.kind[i] === NONE);
  mark(map, sample(free, Math.min(free.length, Math.round(p.density * region.length)), rng), code, level);
}

/** The cell indices of a pattern's region, row-major. */
export function regionCells(p: PatternSpec, rows: number, cols: number): Int32Array {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (inRegion(p, r, c, rows, cols)) out.push(r * cols + c);
  return Int32Array.from(out);
}

/** The cells not yet stuck (and kept by `keep`), in row-major order, in a new array. */
function freeCells(map: FaultMap, keep?: (r: number, c: number) => boolean): Int32Array {
  const out = new Int32Array(map.rows * map.cols);
  const kind = map.kind;
  let n = 0;
  // One flat loop without the per-cell callback: the random pattern's case, ~400k cells per
  // `mlp` chip.
  if (!keep) {
    for (let i = 0; i < kind.length; i++) if (kind[i] === NONE) out[n++] = i;
    return out.subarray(0, n);
  }
  for (let r = 0, i = 0; r < map.rows; r++) for (let c = 0; c < map.cols; c++, i++) if (kind[i] === NONE && keep(r, c)) out[n++] = i;
  return out.subarray(0, n);
}

/**
 * k distinct elements of `from`, uniformly: a partial Fisher-Yates shuffle, in place (every caller
 * passes an array of its own), whose first k elements are returned.
 */
function sample(a: Int32Array, k: number, rng: Rng): Int32Array {
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(a.length - i);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a.subarray(0, k);
}

function mark(map: FaultMap, cells: Int32Array, code: number, level: number): void {
  for (let k = 0; k < cells.length; k++) {
    map.kind[cells[k]] = code;
    map.level[cells[k]] = level;
  }
}

/** Counts per kind: [none, stuck-on, stuck-off, stuck-at]. */
export function countFaults(map: FaultMap): [number, number, number, number] {
  const n: [number, number, number, number] = [0, 0, 0, 0];
  for (const k of map.kind) n[k]++;
  return n;
}
