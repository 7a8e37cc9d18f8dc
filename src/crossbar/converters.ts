import { Rng } from '../core/rng.js';
import type { Circuit } from './circuit.js';
import type { LayerPlan } from './plan.js';

/**
 * Converter errors beside the bit widths (circuit.ts): each ADC (one per output column of each row
 * tile) has a static offset and gain error drawn once per chip, and every conversion adds noise; the
 * input DAC has a bow-shaped integral non-linearity, the same on every chip. Offsets and noise are
 * in LSB of the converter, the gain error relative.
 */
export interface AdcErrors {
  /** Per (row tile, column), [rowTiles * nOut]: offset in units of the full scale, gain factor (1 + error). */
  offset: Float32Array;
  gain: Float32Array;
}

/** Whether the circuit's ADCs have static errors to draw per chip. */
export function adcHasStaticErrors(c: Circuit): boolean {
  return c.adcBits > 0 && (c.adcOffset > 0 || c.adcGainError > 0);
}

/** One chip's static ADC errors of one layer, from its own stream (6): drawn only when the circuit has them. */
export function drawAdcErrors(lp: LayerPlan, c: Circuit, seed: number, chip: number): AdcErrors | undefined {
  if (!adcHasStaticErrors(c)) return undefined;
  const rng = Rng.derive(seed, chip, lp.weighted, 6);
  const n = lp.rowTiles.length * lp.nOut;
  const lsb = 1 / (2 ** (c.adcBits - 1) - 1);
  const offset = new Float32Array(n);
  const gain = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    offset[i] = c.adcOffset * lsb * rng.normal();
    gain[i] = 1 + c.adcGainError * rng.normal();
  }
  return { offset, gain };
}

/**
 * One conversion of v (a partial sum in units of the full scale) by the ADC k of a row tile:
 * gain and offset, noise (std `noiseLsb` LSB, drawn from rng), then the signed q-level quantiser.
 */
export function adcConvert(v: number, q: number, errors: AdcErrors | undefined, k: number, noiseLsb: number, rng: Rng | null): number {
  let u = v;
  if (errors) u = u * errors.gain[k] + errors.offset[k];
  if (noiseLsb > 0 && rng) u += (noiseLsb / q) * rng.normal();
  return Math.round(Math.min(1, Math.max(-1, u)) * q) / q;
}

/**
 * The DAC's output for code k of 0..n (n + 1 codes) in units of the full scale: the ideal level plus
 * a bow-shaped integral non-linearity, `inl` LSB at mid-code and 0 at both ends (the usual shape
 * of a resistor-string DAC's INL).
 */
export function dacInl(k: number, n: number, inlLsb: number, lsb: number): number {
  if (!(inlLsb > 0)) return 0;
  const u = (2 * k) / n - 1;
  return inlLsb * lsb * (1 - u * u);
}
