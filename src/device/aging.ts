import { Rng } from '../core/rng.js';
import type { Device } from './config.js';
import { curveAt } from './curve.js';

/**
 * What a chip draws once for its life after programming, per cell: the drift exponent nu and the
 * direction z of its relaxation. They belong to the chip like its programming noise: every read
 * time sees the same nu and z, so a time sweep follows the same devices as they age.
 */
export interface CellAging {
  nuPos: Float32Array | null;
  nuNeg: Float32Array | null;
  zPos: Float32Array | null;
  zNeg: Float32Array | null;
  /** The 1/f coefficient q of each programmed cell (it depends on G as programmed), kept to spare a pow per read. */
  qPos: Float32Array | null;
  qNeg: Float32Array | null;
}

/**
 * What the aging of a layer reads off its targets alone, the same on every chip of a run: the drift
 * exponent's mean and spread per cell, and, per read time, each cell's relaxation step
 * sqrt(S(T, t)^2 - S_prog(T)^2). Computed once per run (ChipBase) instead of once per chip and time:
 * the curves cost a log or a polynomial per cell.
 */
export interface TargetCurves {
  muPos: Float64Array | null;
  muNeg: Float64Array | null;
  sdPos: Float64Array | null;
  sdNeg: Float64Array | null;
  /** Relaxation steps per read time t (filled on first use). */
  relax: Map<number, { pos: Float64Array; neg: Float64Array }>;
}

export function targetCurves(d: Device, tPos: Float64Array, tNeg: Float64Array): TargetCurves {
  const { drift } = d;
  const at = (c: Parameters<typeof curveAt>[0], t: Float64Array) => {
    const out = new Float64Array(t.length);
    for (let i = 0; i < t.length; i++) out[i] = curveAt(c, t[i], d.gMax);
    return out;
  };
  return {
    muPos: drift ? at(drift.nuMean, tPos) : null,
    muNeg: drift ? at(drift.nuMean, tNeg) : null,
    sdPos: drift ? at(drift.nuStd, tPos) : null,
    sdNeg: drift ? at(drift.nuStd, tNeg) : null,
    relax: new Map(),
  };
}

/** Each cell's relaxation step at time t (targets only), cached in `curves`. */
function relaxSteps(d: Device, x: AgeInputs, t: number): { pos: Float64Array; neg: Float64Array } | null {
  if (!d.relaxation) return null;
  const hit = x.curves?.relax.get(t);
  if (hit) return hit;
  const prog = d.programNoise?.gaussian;
  const step = (tt: Float64Array) => {
    const out = new Float64Array(tt.length);
    for (let i = 0; i < tt.length; i++) {
      const s = relaxationSpread(d, tt[i], t);
      const s0 = prog ? curveAt(prog, tt[i], d.gMax) : 0;
      out[i] = Math.sqrt(Math.max(0, s * s - s0 * s0));
    }
    return out;
  };
  const r = { pos: step(x.tPos), neg: step(x.tNeg) };
  x.curves?.relax.set(t, r);
  return r;
}

/**
 * The per-cell aging draws of one layer from its targets T (and programmed G, for q); cells visited
 * pair by pair (G+ then G-). `curves` (targetCurves of the same targets) spares the per-cell curves.
 */
export function drawCellAging(
  d: Device,
  tPos: Float64Array,
  tNeg: Float64Array,
  gPos: ArrayLike<number>,
  gNeg: ArrayLike<number>,
  rng: Rng,
  curves: TargetCurves = targetCurves(d, tPos, tNeg),
): CellAging {
  const n = tPos.length;
  const { drift, relaxation, noise1f } = d;
  const a: CellAging = {
    nuPos: drift ? new Float32Array(n) : null,
    nuNeg: drift ? new Float32Array(n) : null,
    zPos: relaxation ? new Float32Array(n) : null,
    zNeg: relaxation ? new Float32Array(n) : null,
    qPos: noise1f ? new Float32Array(n) : null,
    qNeg: noise1f ? new Float32Array(n) : null,
  };
  // nu = |N(mean(T), std(T)^2)|: a drift exponent is not negative (aihwkit's PCM model does the same).
  const { muPos, muNeg, sdPos, sdNeg } = curves;
  for (let i = 0; i < n; i++) {
    if (a.nuPos && muPos && sdPos) a.nuPos[i] = Math.abs(muPos[i] + sdPos[i] * rng.normal());
    if (a.zPos) a.zPos[i] = rng.normal();
    if (a.nuNeg && muNeg && sdNeg) a.nuNeg[i] = Math.abs(muNeg[i] + sdNeg[i] * rng.normal());
    if (a.zNeg) a.zNeg[i] = rng.normal();
    if (noise1f && a.qPos && a.qNeg) {
      a.qPos[i] = curveAt(noise1f.q, gPos[i], d.gMax);
      a.qNeg[i] = curveAt(noise1f.q, gNeg[i], d.gMax);
    }
  }
  return a;
}

/**
 * The spread about the target T that relaxation has reached t seconds after programming: the
 * published spreads, made non-decreasing in t (a running maximum), interpolated linearly in ln t
 * between the published times, held before the first and after the last.
 */
export function relaxationSpread(d: Device, target: number, t: number): number {
  const pts = d.relaxation?.points;
  if (!pts) return 0;
  let prev = curveAt(pts[0].gaussian, target, d.gMax);
  if (t <= pts[0].t) return prev;
  for (let k = 1; k < pts.length; k++) {
    const next = Math.max(prev, curveAt(pts[k].gaussian, target, d.gMax));
    if (t < pts[k].t) return prev + ((next - prev) * Math.log(t / pts[k - 1].t)) / Math.log(pts[k].t / pts[k - 1].t);
    prev = next;
  }
  return prev;
}

/** sqrt(ln((t + t0 + tRead) / (2 tRead))), the growth of PCM's accumulated 1/f noise (0 before it starts). */
export function noise1fGrowth(d: Device, t: number): number {
  if (!d.noise1f) return 0;
  const { tRead } = d.noise1f;
  return Math.sqrt(Math.max(0, Math.log((t + (d.drift?.t0 ?? 0) + tRead) / (2 * tRead))));
}

/** The conductance read t seconds after programming ends: relaxation, then drift, then accumulated 1/f noise. */
export interface AgeInputs {
  /** Targets (to read nu's and relaxation's curves), programmed conductances, per-cell draws. */
  tPos: Float64Array;
  tNeg: Float64Array;
  gPos: ArrayLike<number>;
  gNeg: ArrayLike<number>;
  aging: CellAging;
  /** Per weight: bit 0 = G+ is stuck, bit 1 = G- is stuck (stuck cells hold their value), or null. */
  stuck: Uint8Array | null;
  /** targetCurves of tPos/tNeg, shared by the chips of a run (caches the relaxation steps per time). */
  curves?: TargetCurves;
}

/**
 * Ages one layer's cells to t seconds after programming, into new arrays. 1/f noise draws come
 * from `rng` (one per cell, stuck or not, so the draws do not depend on the defect map), which
 * the caller keys by the read time: a chip read at 1 h is the same whatever other times it is read at.
 */
export function ageCells(d: Device, x: AgeInputs, t: number, rng: Rng): { gPos: Float64Array; gNeg: Float64Array } {
  const n = x.tPos.length;
  const gPos = new Float64Array(n);
  const gNeg = new Float64Array(n);
  const lnF = d.drift ? Math.log((t + d.drift.t0) / d.drift.t0) : 0;
  const f1 = noise1fGrowth(d, t);
  const relax = relaxSteps(d, x, t);
  const { aging: a, stuck } = x;
  // One pass per side, in the order the draws were always made (G+ then G- of each weight): the
  // per-cell work is a multiply-add, an exp and a normal draw, with no curve evaluated here.
  const one = (
    g0: number,
    nu: Float32Array | null,
    z: Float32Array | null,
    q: Float32Array | null,
    r: Float64Array | null,
    i: number,
    held: boolean,
  ) => {
    const e = q ? rng.normal() : 0;
    if (held) return g0;
    let g = g0;
    if (z && r) g += r[i] * z[i];
    if (nu) g *= Math.exp(-nu[i] * lnF);
    if (q) g += Math.abs(g) * q[i] * f1 * e;
    return g > 0 ? g : 0;
  };
  const rPos = relax?.pos ?? null;
  const rNeg = relax?.neg ?? null;
  for (let i = 0; i < n; i++) {
    const s = stuck ? stuck[i] : 0;
    gPos[i] = one(x.gPos[i], a.nuPos, a.zPos, a.qPos, rPos, i, (s & 1) !== 0);
    gNeg[i] = one(x.gNeg[i], a.nuNeg, a.zNeg, a.qNeg, rNeg, i, (s & 2) !== 0);
  }
  return { gPos, gNeg };
}

/** A stream keyed by (seed, chip, layer, read time): the float64 words of t, so any time gets its own draws. */
export function readTimeRng(seed: number, chip: number, layer: number, t: number): Rng {
  return Rng.derive(seed, chip, layer, 5, ...timeWords(t));
}

/** The two 32-bit words of t as a float64: extra indices for Rng.derive that tell every time apart. */
export function timeWords(t: number): [number, number] {
  const w = new Uint32Array(new Float64Array([t]).buffer);
  return [w[0], w[1]];
}
