import type { Kernels } from '../core/kernels.js';
import { type PhiloxStream, philoxStream } from '../core/philox.js';
import type { Rng } from '../core/rng.js';
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
 * What a read draws and computes per cell in bulk: the kernels (native: vectorised, or the JS
 * loops, the same bits) and the Philox stream of its 1/f noise (readTimeStream).
 */
export interface ReadKernels {
  stream: PhiloxStream;
  kernels: Pick<Kernels, 'normalPairs' | 'expScaled'>;
}

/**
 * Ages one layer's cells to t seconds after programming, into new arrays. The 1/f noise is the
 * normal pair (G+, G-) of each weight's cells in `read.stream` (drawn for every cell, stuck or not,
 * so the draws do not depend on the defect map), keyed by the read time (readTimeStream): a chip
 * read at 1 h is the same whatever other times it is read at, and on whichever kernels. The drift
 * factors exp(-nu ln F) are one kernel call per side. Both moved to the kernels (CHANGELOG.md,
 * "the aging stream"): before, sfc32 draws and Math.exp were computed per cell in JS.
 */
export function ageCells(d: Device, x: AgeInputs, t: number, read: ReadKernels): { gPos: Float64Array; gNeg: Float64Array } {
  const n = x.tPos.length;
  const lnF = d.drift ? Math.log((t + d.drift.t0) / d.drift.t0) : 0;
  const f1 = noise1fGrowth(d, t);
  const relax = relaxSteps(d, x, t);
  const { aging: a, stuck } = x;
  const { kernels } = read;
  // The draws and factors live only within this call: one scratch buffer, reused from call to
  // call (fresh megabytes per read cost page faults, ~4 ns per cell, as much as the loop itself).
  if (scratch.length < 4 * n) scratch = new Float64Array(4 * n);
  const part = (k: number) => scratch.subarray(k * n, (k + 1) * n);
  let ePos: Float64Array | null = null;
  let eNeg: Float64Array | null = null;
  if (a.qPos && a.qNeg) {
    ePos = part(0);
    eNeg = part(1);
    kernels.normalPairs(read.stream, ePos, eNeg);
  }
  const drift = (nu: Float32Array | null, k: number) => {
    if (!nu) return null;
    const f = part(k);
    kernels.expScaled(nu, -lnF, f);
    return f;
  };
  return {
    gPos: ageSide(x.gPos, drift(a.nuPos, 2), a.zPos, relax?.pos ?? null, a.qPos, ePos, f1, stuck, 1),
    gNeg: ageSide(x.gNeg, drift(a.nuNeg, 3), a.zNeg, relax?.neg ?? null, a.qNeg, eNeg, f1, stuck, 2),
  };
}

/** ageCells' per-call buffers (1/f normals and drift factors of both sides); each worker has its own module. */
let scratch = new Float64Array(0);

/**
 * One side (G+ or G-) of a layer aged: relaxation step r z, drift factor f, 1/f noise |g| q f1 e,
 * floored at 0; cells whose `bit` is set in `stuck` hold. A plain loop over typed arrays (no
 * per-cell closure or math function): two multiply-adds and a multiply per cell.
 */
function ageSide(
  g0: ArrayLike<number>,
  f: Float64Array | null,
  z: Float32Array | null,
  r: Float64Array | null,
  q: Float32Array | null,
  e: Float64Array | null,
  f1: number,
  stuck: Uint8Array | null,
  bit: number,
): Float64Array {
  const n = g0.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (stuck !== null && (stuck[i] & bit) !== 0) {
      out[i] = g0[i];
      continue;
    }
    let g = g0[i];
    if (z !== null && r !== null) g += r[i] * z[i];
    if (f !== null) g *= f[i];
    if (q !== null && e !== null) g += Math.abs(g) * q[i] * f1 * e[i];
    out[i] = g > 0 ? g : 0;
  }
  return out;
}

/**
 * The Philox stream of a read's 1/f noise, named by (seed, chip, layer, read time): key (seed,
 * chip), counter words (layer, time key). The time key hashes t's float64 words to 31 bits with
 * the top bit set, so it never meets the small purpose numbers of philoxStream's other streams
 * (1 variation, ...); two distinct read times share draws with probability 2^-31 (the sfc32 stream
 * it replaced hashed them to 32 bits).
 */
export function readTimeStream(seed: number, chip: number, layer: number, t: number): PhiloxStream {
  return philoxStream(seed, chip, layer, timeKey(t));
}

/** t's float64 words mixed (murmur3's finaliser, a bijection of 32 bits) into a 31-bit key, top bit set. */
export function timeKey(t: number): number {
  const [lo, hi] = timeWords(t);
  return (mix32((mix32(hi) ^ lo) >>> 0) | 0x80000000) >>> 0;
}

function mix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** The two 32-bit words of t as a float64: extra indices for Rng.derive that tell every time apart. */
export function timeWords(t: number): [number, number] {
  const w = new Uint32Array(new Float64Array([t]).buffer);
  return [w[0], w[1]];
}
