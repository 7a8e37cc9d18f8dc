import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { Rng } from '../../src/core/rng.js';
import { ageChip, compensationGain } from '../../src/crossbar/age.js';
import { chipBase, programChip } from '../../src/crossbar/chip.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { ageCells, drawCellAging, noise1fGrowth, readTimeStream, relaxationSpread, timeKey } from '../../src/device/aging.js';
import { type Device, resolveDevice } from '../../src/device/config.js';
import { curveAt } from '../../src/device/curve.js';
import { parseFaultSpec } from '../../src/faults/index.js';
import { buildModel } from '../../src/nn/model.js';
import { describeWith } from '../optional.js';
import { ksCritical, ksStatistic, mean, normalCdf, std } from './stats.js';

const uS = 1e-6;
const pcm = resolveDevice('pcm-joshi2020');
const wan = resolveDevice('reram-wan2022');

/** n cells with G+ and G- both at target t and programmed exactly to it, aged to time `at`. */
function aged(d: Device, t: number, n: number, at: number, seed: number) {
  const tt = new Float64Array(n).fill(t);
  const aging = drawCellAging(d, tt, tt, tt, tt, new Rng(seed));
  const noise = { stream: readTimeStream(seed + 1, 0, 0, at), kernels: jsKernels };
  const g = ageCells(d, { tPos: tt, tNeg: tt, gPos: tt, gNeg: tt, aging, stuck: null }, at, noise);
  return { ...g, aging };
}

describe('drift (PCM power law)', () => {
  const noDrift1f: Device = { ...pcm, noise1f: undefined };

  it('nu per cell follows |N(mean(T), std(T)^2)| of the published curves', () => {
    const n = 4000;
    for (const [k, t] of [1, 10, 25].map((v, k) => [k, v * uS] as const)) {
      const { aging } = aged(noDrift1f, t, n, 0, 10 + k);
      const m = curveAt(pcm.drift?.nuMean as never, t, pcm.gMax);
      const s = curveAt(pcm.drift?.nuStd as never, t, pcm.gMax);
      // The folded normal's CDF on x >= 0.
      const cdf = (x: number) => normalCdf((x - m) / s) - normalCdf((-x - m) / s);
      expect(ksStatistic(aging.nuPos as Float32Array, cdf)).toBeLessThan(ksCritical(n));
      expect(ksStatistic(aging.nuNeg as Float32Array, cdf)).toBeLessThan(ksCritical(n));
    }
  });

  it('G(t) = G0 ((t + t0)/t0)^-nu exactly, cell by cell, and nu is the same at every read time', () => {
    const n = 500;
    const t = 12 * uS;
    const a = aged(noDrift1f, t, n, 3600, 4);
    const b = aged(noDrift1f, t, n, 365 * 86400, 4);
    const t0 = pcm.drift?.t0 as number;
    for (let i = 0; i < n; i++) {
      const nu = (a.aging.nuPos as Float32Array)[i];
      expect(a.gPos[i]).toBeCloseTo(t * ((3600 + t0) / t0) ** -nu, 15);
      expect(b.gPos[i]).toBeCloseTo(t * ((365 * 86400 + t0) / t0) ** -nu, 15);
    }
    // log G decays linearly in log t: mean log-ratio between 1 h and 1 y is -mean(nu) * ln(...).
    expect(mean(Array.from(b.gPos, (g, i) => Math.log(g / a.gPos[i])))).toBeCloseTo(
      -mean(a.aging.nuPos as Float32Array) * Math.log((365 * 86400 + t0) / (3600 + t0)),
      10,
    );
  });
});

describe('accumulated 1/f read noise (PCM)', () => {
  it('relative spread q(G) sqrt(ln((t + t0 + tRead)/(2 tRead))), growing with t', () => {
    const d: Device = {
      ...pcm,
      drift: { ...(pcm.drift as NonNullable<Device['drift']>), nuMean: { poly: [0], of: 'g' }, nuStd: { poly: [0], of: 'g' } },
    };
    const n = 4000;
    const t = 20 * uS;
    const q = curveAt(pcm.noise1f?.q as never, t, pcm.gMax);
    let last = 0;
    for (const [k, at] of [1, 86400, 365 * 86400].map((v, k) => [k, v] as const)) {
      const s = q * noise1fGrowth(d, at);
      const g = aged(d, t, n, at, 50 + k);
      const rel = Array.from(g.gPos, (v) => v / t - 1);
      const relNeg = Array.from(g.gNeg, (v) => v / t - 1);
      expect(ksStatistic(rel, (x) => normalCdf(x / s))).toBeLessThan(ksCritical(n));
      expect(ksStatistic(relNeg, (x) => normalCdf(x / s))).toBeLessThan(ksCritical(n));
      // G+ and G- of a weight draw the two normals of one Box-Muller pair: uncorrelated (sample
      // correlation of independent normals: std 1/sqrt(n); 4 of those).
      const r = rel.reduce((acc, v, i) => acc + v * relNeg[i], 0) / (n * s * s);
      expect(Math.abs(r)).toBeLessThan(4 / Math.sqrt(n));
      expect(s).toBeGreaterThan(last);
      last = s;
    }
  });
});

describe('the read-time stream', () => {
  it('keys every read time apart, off the small purpose numbers of the other Philox streams', () => {
    const times = [0, 1, 3600, 86400, 30 * 86400, 365 * 86400, 1e-9, 0.5, 2 ** 40, 1.0000000000000002];
    const keys = times.map(timeKey);
    expect(new Set(keys).size).toBe(times.length);
    for (const k of keys) expect(k).toBeGreaterThanOrEqual(2 ** 31);
    expect(readTimeStream(7, 3, 2, 3600)).toEqual({ key0: 7, key1: 3, ctr2: 2, ctr3: timeKey(3600) });
  });
});

describe('relaxation (ReRAM, Wan et al. 2022)', () => {
  it('spread about the target is the published one at 1 s, 1 d and 2 d, held after', () => {
    const n = 4000;
    for (const [k, t] of [8, 20, 32].map((v, k) => [k, v * uS] as const)) {
      for (const at of [1, 86400, 2 * 86400, 365 * 86400]) {
        // Programmed with the 1 s spread, then relaxed.
        const tt = new Float64Array(n).fill(t);
        const g0 = tt.slice();
        const r = new Rng(70 + k);
        const s0 = curveAt(wan.programNoise?.gaussian as never, t, wan.gMax);
        for (let i = 0; i < n; i++) g0[i] = t + s0 * r.normal();
        const aging = drawCellAging(wan, tt, tt, g0, g0, new Rng(80 + k));
        const g = ageCells(wan, { tPos: tt, tNeg: tt, gPos: g0, gNeg: g0, aging, stuck: null }, at, {
          stream: readTimeStream(1, 0, 0, at),
          kernels: jsKernels,
        }).gPos;
        const s = relaxationSpread(wan, t, at);
        expect(ksStatistic(g, (x) => normalCdf((x - t) / s))).toBeLessThan(ksCritical(n));
      }
    }
    // The published spreads (aihwkit's fit of Extended Data Fig. 3d), and the hold past 2 days.
    const poly = (c: number[], u: number) => c.reduce((a, v, i) => a + v * u ** i, 0);
    expect(relaxationSpread(wan, 20 * uS, 86400) / uS).toBeCloseTo(poly([0.701, 22.086, -50.773, 47.095, -16.458], 0.5), 9);
    expect(relaxationSpread(wan, 20 * uS, 365 * 86400)).toBe(relaxationSpread(wan, 20 * uS, 2 * 86400));
    expect(relaxationSpread(wan, 20 * uS, 3600)).toBeGreaterThan(relaxationSpread(wan, 20 * uS, 1));
    expect(relaxationSpread(wan, 20 * uS, 3600)).toBeLessThan(relaxationSpread(wan, 20 * uS, 86400));
  });
});

describe('aging a chip', () => {
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
  const base = chipBase(plan, pcm);

  it('leaves the programmed chip as it was, holds stuck cells, and gives the same aged chip whatever else was read', () => {
    const chip = programChip(plan, pcm, faults, 9, 4, { base });
    const before = chip.layers.map((l) => l.gPos.slice());
    const day = ageChip(plan, pcm, base, 9, chip, { t: 86400, compensation: 'none' });
    ageChip(plan, pcm, base, 9, chip, { t: 3600, compensation: 'none' });
    const again = ageChip(plan, pcm, base, 9, programChip(plan, pcm, faults, 9, 4, { base }), { t: 86400, compensation: 'none' });
    chip.layers.forEach((l, k) => {
      expect(l.gPos).toEqual(before[k]);
      expect(day.layers[k].gPos).toEqual(again.layers[k].gPos);
      expect(day.layers[k].gPos).not.toEqual(l.gPos);
      // stuck cells (G+ side) keep their programmed value
      const lp = plan.layers[k];
      lp.tiles.forEach((t, ti) => {
        const map = l.faults[ti];
        if (!map) return;
        for (let r = 0; r < map.rows; r++)
          for (let pc = 0; pc < map.cols; pc += 2)
            if (map.kind[r * map.cols + pc]) {
              const cell = (t.r0 + r) * lp.nOut + t.c0 + (pc >> 1);
              expect(day.layers[k].gPos[cell]).toBe(l.gPos[cell]);
            }
      });
    });
    // a device without a time model reads the programmed chip itself
    const gen = resolveDevice('reram-generic');
    const g = programChip(plan, gen, faults, 9, 4);
    expect(ageChip(plan, gen, chipBase(plan, gen), 9, g, { t: 1e7, compensation: 'global' })).toBe(g);
  });

  it('compensation undoes a uniform drift exactly, globally and per column', () => {
    const p0 = Float64Array.from([1, 2, 3, 4, 5, 6]);
    const n0 = Float64Array.from([6, 5, 4, 3, 2, 1]);
    const f = [0.5, 0.8, 0.9];
    const p1 = p0.map((v, i) => v * f[i % 3]);
    const n1 = n0.map((v, i) => v * f[i % 3]);
    const col = compensationGain('column', 3, p0, n0, p1, n1) as Float64Array;
    for (const [j, g] of col.entries()) expect(g * f[j]).toBeCloseTo(1, 12);
    const glob = compensationGain(
      'global',
      3,
      p0,
      n0,
      p0.map((v) => v * 0.7),
      n0.map((v) => v * 0.7),
    ) as Float64Array;
    for (const g of glob) expect(g).toBeCloseTo(1 / 0.7, 12);
    expect(compensationGain('none', 3, p0, n0, p1, n1)).toBeNull();
  });

  it('with compensation the aged weights come back near the programmed ones after a year of drift', () => {
    const d: Device = { ...pcm, noise1f: undefined };
    const chip = programChip(plan, d, [], 2, 0);
    const err = (c: 'none' | 'global' | 'column') => {
      const a = ageChip(plan, d, chipBase(plan, d), 2, chip, { t: 365 * 86400, compensation: c });
      const w0 = chip.layers[0].wEff;
      const w1 = a.layers[0].wEff;
      return std(Array.from(w1, (v, i) => v - w0[i])) + Math.abs(mean(Array.from(w1, (v, i) => v - w0[i])));
    };
    expect(err('global')).toBeLessThan(0.5 * err('none'));
    expect(err('column')).toBeLessThan(0.5 * err('none'));
  });
});

describeWith(['native'], 'aging on the native kernels', () => {
  it("gives the JS kernels' aged chip bit for bit, on 1 and 2 threads (1/f noise, drift, stuck cells)", () => {
    // Layers above the native kernel's 16k-cell thread threshold, so that 2 threads split the draws.
    const model = buildModel(
      {
        inputShape: [10, 20, 1],
        layers: [{ type: 'flatten' }, { type: 'dense', units: 100 }, { type: 'activation', fn: 'relu' }, { type: 'dense', units: 10 }],
      },
      5,
    );
    const calib = new Float32Array(200 * 20).map((_, i) => (i % 11) / 11);
    const plan = planCrossbars(model, resolveCircuit({}), calib, 20, jsKernels);
    const faults = parseFaultSpec('random:sa0=0.02,sa1=0.02');
    const base = chipBase(plan, pcm);
    const bits = (c: ReturnType<typeof ageChip>) =>
      c.layers.map((l) => Buffer.from(l.gPos.buffer).toString('hex') + Buffer.from(l.wEff.buffer).toString('hex'));
    for (const t of [1, 86400, 365 * 86400]) {
      const read = { t, compensation: 'global' } as const;
      const want = bits(ageChip(plan, pcm, base, 3, programChip(plan, pcm, faults, 3, 7, { base }), read, jsKernels));
      for (const threads of [1, 2]) {
        const k = loadKernels({ prefer: 'native', threads });
        expect(k.normalPairs).not.toBe(jsKernels.normalPairs);
        expect(bits(ageChip(plan, pcm, base, 3, programChip(plan, pcm, faults, 3, 7, { base, kernels: k }), read, k))).toEqual(want);
      }
    }
  });
});
