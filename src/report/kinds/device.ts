import { type Curve, curveAt } from '../../device/curve.js';
import { linePlot } from '../plots.js';
import type { Plot } from '../types.js';
import { isNum, isObj, type Json } from '../util.js';

/** A curve as results.json records it, or null when the record is not one (the report reads any file). */
function asCurve(v: unknown): Curve | null {
  if (!isObj(v)) return null;
  const nums = (a: unknown): a is number[] => Array.isArray(a) && a.length > 0 && a.every(isNum);
  const clamp = nums(v.clamp) && v.clamp.length === 2 ? { clamp: v.clamp as [number, number] } : {};
  if (nums(v.poly)) return { poly: v.poly, of: v.of === 'ln g' ? 'ln g' : 'g', ...clamp };
  if (nums(v.power) && v.power.length === 2) return { power: v.power as [number, number], ...clamp };
  if (Array.isArray(v.table) && v.table.length && v.table.every((p) => nums(p) && p.length === 2))
    return { table: v.table as [number, number][], ...clamp };
  return null;
}

const SAMPLES = 65;
const uS = 1e-6;

/** '86400' -> '1 d': the published times of a relaxation model, as a reader says them. */
function timeLabel(t: number): string {
  for (const [unit, s] of [
    ['y', 365 * 86400],
    ['d', 86400],
    ['h', 3600],
    ['min', 60],
  ] as const)
    if (t >= s) return `${Number((t / s).toPrecision(3))} ${unit}`;
  return `${Number(t.toPrecision(3))} s`;
}

/**
 * The device's spread of programmed conductance against the target, from the curves its record
 * carries (docs/devices.md): the standard deviation right after programming (Gaussian and
 * log-normal parts together, programSigma included) and, with relaxation, the published spread at
 * each of its times. null for a device whose spread does not depend on the conductance.
 */
export function deviceSpreadPlot(device: Json, id = 'device-spread'): Plot | null {
  const { gMin, gMax } = device;
  if (!isNum(gMin) || !isNum(gMax) || !(gMax > gMin)) return null;
  const pn = isObj(device.programNoise) ? device.programNoise : {};
  const gauss = asCurve(pn.gaussian);
  const logn = asCurve(pn.lognormal);
  const sigma0 = isNum(device.programSigma) ? device.programSigma : 0;
  const relax = isObj(device.relaxation) && Array.isArray(device.relaxation.points) ? device.relaxation.points : [];
  if (!gauss && !logn && !relax.length) return null;
  const gs = Array.from({ length: SAMPLES }, (_, i) => gMin + ((gMax - gMin) * i) / (SAMPLES - 1));
  const points: { x: number; y: number; series: string }[] = [];
  for (const g of gs) {
    // Var of G exp(s z) is G^2 (e^{s^2} - 1) e^{s^2}; the two log-normal draws compound to s^2 = s0^2 + s_ln^2.
    const s2 = sigma0 ** 2 + (logn ? curveAt(logn, g, gMax) ** 2 : 0);
    const sg = gauss ? curveAt(gauss, g, gMax) : 0;
    const sd = Math.sqrt(g * g * (Math.exp(s2) - 1) * Math.exp(s2) + sg * sg);
    points.push({ x: g / uS, y: sd / uS, series: 'programmed' });
  }
  for (const p of relax) {
    const c = isObj(p) ? asCurve(p.gaussian) : null;
    if (!c || !isObj(p) || !isNum(p.t)) continue;
    const label = `${timeLabel(p.t)} (source)`;
    for (const g of gs) points.push({ x: g / uS, y: curveAt(c, g, gMax) / uS, series: label });
  }
  const name = typeof device.name === 'string' ? device.name : 'device';
  return {
    id,
    title: `Conductance spread vs target: ${name}`,
    caption:
      'Standard deviation of the programmed conductance against its target ("programmed"), from the curves the device ' +
      'carries (for a preset, the published fits named in its description and docs/devices.md); with relaxation, the ' +
      'spread the source gives at each of its times after programming ("1 d (source)"). The presets store the fits, ' +
      'not the papers\u2019 raw points.',
    spec: linePlot(`Conductance spread vs target (${name})`, 'target conductance (uS)', 'std of conductance (uS)', points),
  };
}
