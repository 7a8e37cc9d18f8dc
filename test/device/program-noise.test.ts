import { describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { Rng } from '../../src/core/rng.js';
import { programChip } from '../../src/crossbar/chip.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { type Device, type DeviceInput, resolveDevice } from '../../src/device/config.js';
import { curveAt } from '../../src/device/curve.js';
import { programNoisePairs } from '../../src/device/program.js';
import { parseFaultSpec } from '../../src/faults/index.js';
import { buildModel } from '../../src/nn/model.js';
import { ksCritical, ksStatistic, mean, normalCdf, std } from './stats.js';

const uS = 1e-6;

/** n cells of each pair at target t (G+ and G- both at t), programmed with the device's noise. */
function program(d: Device, t: number, n: number, seed: number): { pos: Float64Array; neg: Float64Array } {
  const tt = new Float64Array(n).fill(t);
  const pos = tt.slice();
  const neg = tt.slice();
  programNoisePairs(d, tt, tt, pos, neg, new Rng(seed));
  return { pos, neg };
}

describe('conductance curves', () => {
  it('evaluates polynomials in G/gMax or ln(G/gMax), tables, and clamps', () => {
    const c = { poly: [1, 2, 3], of: 'g' as const };
    expect(curveAt(c, 5, 10)).toBeCloseTo(1 + 2 * 0.5 + 3 * 0.25, 12);
    expect(curveAt({ poly: [0.0244, -0.0155], of: 'ln g', clamp: [0.049, 0.1] }, 1e-6, 25e-6)).toBeCloseTo(
      Math.min(0.1, Math.max(0.049, 0.0244 - 0.0155 * Math.log(1 / 25))),
      12,
    );
    const t = { table: [[1, 10] as [number, number], [3, 30] as [number, number]] };
    expect(curveAt(t, 0.5, 9)).toBe(10);
    expect(curveAt(t, 2, 9)).toBeCloseTo(20, 12);
    expect(curveAt(t, 4, 9)).toBe(30);
  });
});

describe('conductance-dependent programming noise', () => {
  // The PCM preset's polynomial: sigma_G(G) in uS with u = G / 25 uS (Nandakumar et al. 2019).
  const pcm = resolveDevice('pcm-joshi2020');
  const pcmSigma = (g: number) => (0.26348 + 1.965 * (g / (25 * uS)) - 1.1731 * (g / (25 * uS)) ** 2) * uS;

  it('the presets carry their published polynomials', () => {
    for (const g of [0.1, 5, 12.5, 25].map((v) => v * uS))
      expect(curveAt(pcm.programNoise?.gaussian as never, g, pcm.gMax)).toBeCloseTo(pcmSigma(g), 15);
    const wan = resolveDevice('reram-wan2022');
    const u = 0.5;
    expect(curveAt(wan.programNoise?.gaussian as never, 20 * uS, wan.gMax) / uS).toBeCloseTo(
      0.348 + 16.03 * u - 43.853 * u ** 2 + 45.393 * u ** 3 - 16.815 * u ** 4,
      9,
    );
  });

  it('Gaussian in conductance: every target level passes a KS test against N(T, sigma_G(T)^2)', () => {
    const n = 4000;
    // Levels where clamping at 0 is negligible (T > 9 sigma).
    for (const [k, t] of [5, 10, 15, 20, 25].map((v, k) => [k, v * uS] as const)) {
      const { pos, neg } = program(pcm, t, n, 100 + k);
      const s = pcmSigma(t);
      for (const g of [pos, neg]) {
        expect(ksStatistic(g, (x) => normalCdf((x - t) / s))).toBeLessThan(ksCritical(n));
        expect(Math.abs(mean(g) - t)).toBeLessThan((4 * s) / Math.sqrt(n));
        expect(Math.abs(std(g) / s - 1)).toBeLessThan(4 / Math.sqrt(2 * n));
      }
    }
  });

  it('clamps at 0 S: near the bottom of the range the share of open cells is Phi(-T / sigma)', () => {
    const n = 20000;
    const t = 0.1 * uS;
    const { pos } = program(pcm, t, n, 7);
    const p = normalCdf(-t / pcmSigma(t));
    const zeros = pos.filter((g) => g === 0).length / n;
    expect(Math.abs(zeros - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    expect(Math.min(...pos)).toBe(0);
    // Above 0 the distribution is the normal's tail.
    const pos0 = pos.filter((g) => g > 0);
    const cdf = (x: number) => (normalCdf((x - t) / pcmSigma(t)) - p) / (1 - p);
    expect(ksStatistic(pos0, cdf)).toBeLessThan(ksCritical(pos0.length));
  });

  it('log-normal from a table: ln(G/T) ~ N(0, sigma_ln(T)^2) at each level', () => {
    const d = resolveDevice({
      gMin: 1 * uS,
      gMax: 100 * uS,
      programNoise: {
        lognormal: {
          table: [
            [1 * uS, 0.3],
            [100 * uS, 0.05],
          ],
        },
      },
    });
    const n = 4000;
    for (const [k, t] of [1, 50.5, 100].map((v, k) => [k, v * uS] as const)) {
      const s = 0.3 + ((0.05 - 0.3) * (t - 1 * uS)) / (99 * uS);
      const z = Array.from(program(d, t, n, 30 + k).pos, (g) => Math.log(g / t));
      expect(ksStatistic(z, (x) => normalCdf(x / s))).toBeLessThan(ksCritical(n));
    }
  });

  it('both: the moments of T exp(s_ln z1) + s_G z2', () => {
    const sl = 0.2;
    const sg = 3 * uS;
    const d = resolveDevice({ gMin: 1 * uS, gMax: 100 * uS, programNoise: { lognormal: { poly: [sl] }, gaussian: { poly: [sg] } } });
    const n = 40000;
    const t = 60 * uS;
    const { pos } = program(d, t, n, 3);
    const m = t * Math.exp(sl ** 2 / 2);
    const v = t ** 2 * (Math.exp(2 * sl ** 2) - Math.exp(sl ** 2)) + sg ** 2;
    expect(Math.abs(mean(pos) - m)).toBeLessThan((4 * Math.sqrt(v)) / Math.sqrt(n));
    // The variance's standard error, for this mildly skewed law, is within 2x the Gaussian one.
    expect(Math.abs(std(pos) ** 2 / v - 1)).toBeLessThan(8 / Math.sqrt(2 * n));
  });

  it('chip i of seed s stays the same chip, with the defect map of the same chip without the noise', () => {
    const model = buildModel(
      {
        inputShape: [4, 4, 1],
        layers: [{ type: 'flatten' }, { type: 'dense', units: 12 }, { type: 'activation', fn: 'relu' }, { type: 'dense', units: 4 }],
      },
      3,
    );
    const calib = new Float32Array(16 * 20).map((_, i) => (i % 7) / 7);
    const plan = planCrossbars(model, resolveCircuit({ arrayRows: 8, arrayCols: 8 }), calib, 20, jsKernels);
    const faults = parseFaultSpec('random:sa0=0.05,sa1=0.05');
    const a = programChip(plan, pcm, faults, 9, 4);
    const b = programChip(plan, pcm, faults, 9, 4);
    const other = programChip(plan, pcm, faults, 9, 5);
    const plain = programChip(plan, resolveDevice({ ...(pcm as DeviceInput), programNoise: undefined }), faults, 9, 4);
    a.layers.forEach((l, k) => {
      expect(l.gPos).toEqual(b.layers[k].gPos);
      expect(l.gNeg).toEqual(b.layers[k].gNeg);
      expect(l.gPos).not.toEqual(other.layers[k].gPos);
      expect(l.faults).toEqual(plain.layers[k].faults);
      expect(l.gPos).not.toEqual(plain.layers[k].gPos);
    });
  });

  it('refuses a negative spread, an empty model and an unordered table, in one line', () => {
    const bad: [DeviceInput, RegExp][] = [
      [
        { gMin: 1e-6, gMax: 1e-4, programNoise: { gaussian: { poly: [1e-6, -2e-6] } } },
        /programNoise.gaussian: spread is negative .* at G = /,
      ],
      [{ gMin: 1e-6, gMax: 1e-4, programNoise: {} }, /programNoise needs gaussian, lognormal or both/],
      [
        {
          gMin: 1e-6,
          gMax: 1e-4,
          programNoise: {
            lognormal: {
              table: [
                [2e-6, 0.1],
                [1e-6, 0.2],
              ],
            },
          },
        },
        /ascending/,
      ],
    ];
    for (const [input, re] of bad) {
      let err: unknown;
      try {
        resolveDevice(input);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(XbarError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toContain('\n');
    }
  });
});
