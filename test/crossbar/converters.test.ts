import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { Rng } from '../../src/core/rng.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { adcConvert, dacInl, drawAdcErrors } from '../../src/crossbar/converters.js';
import { runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { type LayerPlan, planCrossbars } from '../../src/crossbar/plan.js';
import { resolveDevice } from '../../src/device/config.js';
import { buildModel } from '../../src/nn/model.js';
import { ksCritical, ksStatistic, normalCdf } from '../device/stats.js';

describe('converter errors', () => {
  const c = resolveCircuit({ adcBits: 6, adcOffset: 1.5, adcGainError: 0.02 });
  const lp = { weighted: 0, nOut: 50, rowTiles: [[], [], []] } as unknown as LayerPlan;
  const lsb = 1 / 31;

  it('static ADC offsets and gains: N(0, (offset LSB)^2) and N(1, gainError^2) per converter, the same for chip i of seed s', () => {
    const off: number[] = [];
    const gain: number[] = [];
    for (let chip = 0; chip < 30; chip++) {
      const e = drawAdcErrors(lp, c, 7, chip);
      if (!e) throw new Error('no errors drawn');
      off.push(...e.offset);
      gain.push(...e.gain);
    }
    expect(off).toHaveLength(4500);
    expect(ksStatistic(off, (x) => normalCdf(x / (1.5 * lsb)))).toBeLessThan(ksCritical(off.length));
    expect(ksStatistic(gain, (x) => normalCdf((x - 1) / 0.02))).toBeLessThan(ksCritical(gain.length));
    expect(drawAdcErrors(lp, c, 7, 3)).toEqual(drawAdcErrors(lp, c, 7, 3));
    expect(drawAdcErrors(lp, resolveCircuit({ adcBits: 6, adcNoise: 1 }), 7, 3)).toBeUndefined();
  });

  it('per-conversion noise: a 16-bit ADC reading a constant spreads by the noise (and its rounding)', () => {
    const q = 2 ** 15 - 1;
    const rng = new Rng(3);
    const n = 4000;
    const dev = Array.from({ length: n }, () => (adcConvert(0.3, q, undefined, 0, 3, rng) - 0.3) * q);
    // The codes are discrete (a KS test against a continuous law does not apply): their CDF at each code k is
    // P(round(a + e) <= k) = Phi((k + 1/2 - a) / 3) with a = 0.3 q; compare it with the sample's at every code.
    const a = 0.3 * q;
    const codes = dev.map((d) => Math.round(d + a));
    let worst = 0;
    for (let k = Math.min(...codes); k <= Math.max(...codes); k++) {
      const emp = codes.filter((c) => c <= k).length / n;
      worst = Math.max(worst, Math.abs(emp - normalCdf((k + 0.5 - a) / 3)));
    }
    expect(worst).toBeLessThan(ksCritical(n));
    // offset and gain apply before the quantiser and its clipping
    expect(adcConvert(0.5, q, { offset: Float32Array.of(0.1), gain: Float32Array.of(1.2) }, 0, 0, null)).toBeCloseTo(0.7, 4);
    expect(adcConvert(0.9, q, { offset: Float32Array.of(0.2), gain: Float32Array.of(1) }, 0, 0, null)).toBe(1);
  });

  it('DAC INL is a bow: inl LSB at mid-code, 0 at both ends', () => {
    expect(dacInl(0, 10, 2, 0.1)).toBe(0);
    expect(dacInl(10, 10, 2, 0.1)).toBe(0);
    expect(dacInl(5, 10, 2, 0.1)).toBeCloseTo(0.2, 12);
    expect(dacInl(5, 10, 0, 0.1)).toBe(0);
  });

  it('refuses ADC errors without an ADC and INL without a DAC, in one line', () => {
    expect(() => resolveCircuit({ adcOffset: 1 })).toThrow(/adcOffset is an ADC error: it needs adcBits > 0/);
    expect(() => resolveCircuit({ dacInl: 1 })).toThrow(/dacInl is a DAC error: it needs dacBits > 0/);
  });

  it('a Monte Carlo with converter errors: chips differ, each is reproducible alone, and no error leaves the ideal run as it was', () => {
    const model = buildModel(
      {
        inputShape: [4, 4, 1],
        layers: [{ type: 'flatten' }, { type: 'dense', units: 12 }, { type: 'activation', fn: 'relu' }, { type: 'dense', units: 4 }],
      },
      3,
    );
    const n = 200;
    const x = new Float32Array(16 * n).map((_, i) => ((i * 7919) % 13) / 13);
    const y = new Uint8Array(n).map((_, i) => i % 4);
    const test = { x, y, n, classes: 4, shape: [4, 4, 1] } as never;
    const dev = resolveDevice('ideal');
    const run = (circuit: object, chips = 4, firstChip = 0) => {
      const plan = planCrossbars(model, resolveCircuit({ arrayRows: 8, arrayCols: 8, ...circuit }), x, n, jsKernels);
      return runMonteCarlo(model, plan, dev, [], test, { chips, seed: 4, firstChip }, jsKernels).chips.map((r) => r.correct);
    };
    const clean = run({ adcBits: 5, dacBits: 4 });
    expect(new Set(clean).size).toBe(1);
    const noisy = run({ adcBits: 5, dacBits: 4, adcOffset: 2, adcGainError: 0.1, adcNoise: 1, dacInl: 1 });
    expect(new Set(noisy).size).toBeGreaterThan(1);
    expect(run({ adcBits: 5, dacBits: 4, adcOffset: 2, adcGainError: 0.1, adcNoise: 1, dacInl: 1 }, 1, 2)).toEqual([noisy[2]]);
  });
});
