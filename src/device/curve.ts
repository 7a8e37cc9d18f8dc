/**
 * A device quantity that depends on the cell's conductance G: a spread, a drift exponent's mean,
 * a noise coefficient. Measured arrays publish these either as a fitted polynomial (aihwkit's PCM
 * and ReRAM models, from Nandakumar et al. and Wan et al.) or as points read off a figure, so a
 * curve is one of:
 *
 * - `poly`: sum_i c_i u^i with u = G / gMax (`of: 'g'`, the fits' convention) or u = ln(G / gMax)
 *   (`of: 'ln g'`, PCM's drift exponent), optionally clamped to [lo, hi];
 * - `power`: a u^b with u = G / gMax (PCM's 1/f noise coefficient), optionally clamped;
 * - `table`: [G in siemens, value] points, G ascending, linear in between and held flat beyond
 *   the first and last point (a table says nothing outside its range, so it does not extrapolate).
 *
 * Its zod schema lives in config.ts: this module stays free of zod, for the Monte Carlo workers.
 */
export type Curve =
  | { poly: number[]; of: 'g' | 'ln g'; clamp?: [number, number] }
  | { power: [number, number]; clamp?: [number, number] }
  | { table: [number, number][]; clamp?: [number, number] };

/** The curve's value at conductance g (siemens) on a device of maximum conductance gMax. */
export function curveAt(c: Curve, g: number, gMax: number): number {
  let v: number;
  if ('poly' in c) {
    const u = c.of === 'ln g' ? Math.log(Math.max(g, 1e-30) / gMax) : g / gMax;
    // Horner, highest power first.
    v = 0;
    for (let i = c.poly.length - 1; i >= 0; i--) v = v * u + c.poly[i];
  } else if ('power' in c) {
    // At G = 0 a negative power is infinite: the clamp (which such a curve needs) bounds it.
    v = c.power[0] * (g / gMax) ** c.power[1];
  } else {
    const t = c.table;
    if (g <= t[0][0]) v = t[0][1];
    else if (g >= t[t.length - 1][0]) v = t[t.length - 1][1];
    else {
      let k = 1;
      while (t[k][0] < g) k++;
      const [g0, v0] = t[k - 1];
      const [g1, v1] = t[k];
      v = v0 + ((v1 - v0) * (g - g0)) / (g1 - g0);
    }
  }
  if (c.clamp) v = Math.min(c.clamp[1], Math.max(c.clamp[0], v));
  return v;
}

/**
 * The curve's smallest value over [gMin, gMax] (sampled at 257 points, and at every table point
 * inside): for validation, e.g. that a spread never goes negative over the programmable range.
 */
export function curveMin(c: Curve, gMin: number, gMax: number): { g: number; v: number } {
  const gs: number[] = [];
  for (let i = 0; i <= 256; i++) gs.push(gMin + ((gMax - gMin) * i) / 256);
  if ('table' in c) for (const [g] of c.table) if (g > gMin && g < gMax) gs.push(g);
  let best = { g: gMin, v: Number.POSITIVE_INFINITY };
  for (const g of gs) {
    const v = curveAt(c, g, gMax);
    if (v < best.v) best = { g, v };
  }
  return best;
}

/** The curve's value at each of n conductances, as a table for a plot or a per-cell pass. */
export function curveValues(c: Curve, g: ArrayLike<number>, gMax: number): Float64Array {
  const out = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) out[i] = curveAt(c, g[i], gMax);
  return out;
}
