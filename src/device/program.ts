import type { Rng } from '../core/rng.js';
import type { Device } from './config.js';
import { curveAt } from './curve.js';

// Free of zod (config.ts's schemas): the Monte Carlo workers import this module.

/** Whether a chip changes after programming (`--time` then ages it). */
export function deviceAges(d: Device): boolean {
  return d.drift !== undefined || d.relaxation !== undefined || d.noise1f !== undefined;
}

/** Whether programming draws anything (otherwise every chip's healthy cells sit at their targets). */
export function programVaries(d: Device): boolean {
  return d.programSigma > 0 || d.programNoise !== undefined;
}

/**
 * Conductance-dependent programming noise (Device.programNoise) on a layer's differential pairs,
 * in place: g = max(0, g exp(sigma_ln(T) z1) + sigma_G(T) z2) with both spreads read off the
 * target T. Cells are visited pair by pair (G+ then G-), drawing z1 then z2 for each part the
 * device has, so the draws of a chip depend on its stream alone.
 */
export function programNoisePairs(
  d: Device,
  tPos: Float64Array,
  tNeg: Float64Array,
  gPos: Float64Array,
  gNeg: Float64Array,
  rng: Rng,
): void {
  const p = d.programNoise;
  if (!p) return;
  const { gaussian, lognormal } = p;
  const one = (t: number, g: number): number => {
    let v = g;
    if (lognormal) v *= Math.exp(curveAt(lognormal, t, d.gMax) * rng.normal());
    if (gaussian) v += curveAt(gaussian, t, d.gMax) * rng.normal();
    // A conductance cannot go negative: a cell programmed below zero reads as open.
    return v > 0 ? v : 0;
  };
  for (let i = 0; i < tPos.length; i++) {
    gPos[i] = one(tPos[i], gPos[i]);
    gNeg[i] = one(tNeg[i], gNeg[i]);
  }
}
