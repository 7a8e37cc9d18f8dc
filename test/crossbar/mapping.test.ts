import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { layerCost } from '../../src/cost/model.js';
import { ageChip } from '../../src/crossbar/age.js';
import { chipBase, idealLayerWeights, programChip } from '../../src/crossbar/chip.js';
import { type CircuitInput, idealCircuit, resolveCircuit } from '../../src/crossbar/circuit.js';
import { type Mapping, significances, sliceValues } from '../../src/crossbar/mapping.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { simulateBatch } from '../../src/crossbar/simulate.js';
import { resolveDevice } from '../../src/device/config.js';
import { parseFaultSpec } from '../../src/faults/index.js';
import { buildModel } from '../../src/nn/model.js';
import { loadTech } from '../../src/study/inputs-node.js';
import { std } from '../device/stats.js';

const model = buildModel(
  {
    inputShape: [4, 4, 1],
    layers: [{ type: 'flatten' }, { type: 'dense', units: 12 }, { type: 'activation', fn: 'relu' }, { type: 'dense', units: 4 }],
  },
  3,
);
const nCalib = 20;
const calib = new Float32Array(16 * nCalib).map((_, i) => (i % 7) / 7);
const plan = (c: CircuitInput) => planCrossbars(model, resolveCircuit(c), calib, nCalib, jsKernels);
const ideal = resolveDevice('ideal');

describe('slices and significances', () => {
  it('significances sum to 1; K-bit slices weigh 2^K more each', () => {
    for (const m of [
      { scheme: 'differential', cells: 3, sliceBits: 0 },
      { scheme: 'reference', cells: 4, sliceBits: 2 },
    ] as Mapping[]) {
      const sig = significances(m);
      expect(sig.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
      if (m.sliceBits) for (let s = 1; s < m.cells; s++) expect(sig[s] / sig[s - 1]).toBeCloseTo(2 ** m.sliceBits, 12);
    }
  });

  it('sum_s sig_s v_s gives the weight back: exactly when split, to the N*K-bit step when sliced', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -1, max: 1, noNaN: true }),
        fc.constantFrom<Mapping['scheme']>('differential', 'reference'),
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        (wn, scheme, cells, sliceBits) => {
          const m: Mapping = { scheme, cells, sliceBits };
          const v = new Float64Array(cells);
          sliceValues(wn, m, v);
          const sig = significances(m);
          const w = v.reduce((a, x, s) => a + sig[s] * x, 0);
          for (const x of v) expect(Math.abs(x)).toBeLessThanOrEqual(1 + 1e-12);
          // Differential slices quantise |w| in steps of 1/(2^NK - 1), reference slices (w + 1)/2: twice the step in w.
          const step = sliceBits ? (scheme === 'reference' ? 2 : 1) / (2 ** (cells * sliceBits) - 1) : 0;
          expect(Math.abs(w - wn)).toBeLessThanOrEqual(step / 2 + 1e-12);
        },
      ),
    );
  });
});

describe('mapping schemes on a chip', () => {
  const x = calib;
  const sw = model.predict(x, nCalib, jsKernels);
  const maxErr = (a: ArrayLike<number>) => Math.max(...Array.from(a, (v, i) => Math.abs(v - sw[i])));

  it('an ideal chip computes the software network under every scheme', () => {
    for (const c of [
      { mapping: 'reference' },
      { cellsPerWeight: 2 },
      { mapping: 'reference', cellsPerWeight: 3 },
      { cellsPerWeight: 2, sliceBits: 8 },
      { mapping: 'reference', cellsPerWeight: 2, sliceBits: 8 },
    ] as CircuitInput[]) {
      const p = plan({ ...idealCircuit, arrayRows: 8, arrayCols: 8, ...c });
      const chip = programChip(p, ideal, [], 1, 0);
      const out = simulateBatch(model, p, chip.layers, ideal, x, nCalib, { kernels: jsKernels, rng: null });
      // 16-bit slices quantise the weights: 1/65535 of the largest weight.
      expect(maxErr(out.data)).toBeLessThan(c.sliceBits ? 1e-3 : 1e-5);
    }
  });

  it('tiles by physical columns: 2N per weight column differential, N plus one reference column', () => {
    const cols = (c: CircuitInput) => plan({ arrayRows: 8, arrayCols: 8, ...c }).layers[0].rowTiles[0].map((t) => t.c1 - t.c0);
    expect(cols({})).toEqual([4, 4, 4]);
    expect(cols({ cellsPerWeight: 2 })).toEqual([2, 2, 2, 2, 2, 2]);
    expect(cols({ mapping: 'reference' })).toEqual([7, 5]);
    expect(cols({ mapping: 'reference', cellsPerWeight: 3 })).toEqual([2, 2, 2, 2, 2, 2]);
    expect(() => resolveCircuit({ arrayCols: 4, cellsPerWeight: 3 })).toThrow(/cannot hold one weight column.*needs 6/);
    expect(() => resolveCircuit({ sliceBits: 4 })).toThrow(/bit slices need cellsPerWeight >= 2/);
  });

  it('a stuck reference cell moves every weight of its row in its array by the same amount; the reference ages once per row', () => {
    const p = plan({ ...idealCircuit, arrayRows: 8, arrayCols: 8, mapping: 'reference' });
    const lp = p.layers[0];
    const dev = resolveDevice('reram-generic', { programSigma: 0 });
    // The last physical column of an 8-column array holding 7 weight columns is its reference.
    const chip = programChip(p, dev, parseFaultSpec('columns:from=0.9,to=1,kind=stuck-on@layers=0'), 1, 0);
    const w0 = idealLayerWeights(lp, dev, p.circuit);
    const lc = chip.layers[0];
    const span = dev.gMax - dev.gMin;
    for (const t of lp.tiles)
      for (let r = t.r0; r < t.r1; r++)
        for (let j = t.c0; j < t.c1; j++) {
          const i = r * lp.nOut + j;
          // The reference went from mid-swing to gMax: every weight drops by colScale (w = 2 (G - Gref) colScale / span).
          expect(lc.wEff[i] - w0[i]).toBeCloseTo((-2 * (dev.gMax - (dev.gMin + span / 2)) * lp.colScale[j]) / span, 5);
        }
    const pcm = resolveDevice('pcm-joshi2020');
    const pp = plan({ arrayRows: 8, arrayCols: 8, mapping: 'reference' });
    const aged = ageChip(pp, pcm, chipBase(pp, pcm), 1, programChip(pp, pcm, [], 1, 0), { t: 86400, compensation: 'none' });
    const a = aged.layers[0];
    const l0 = pp.layers[0];
    for (const t of l0.tiles)
      for (let r = t.r0; r < t.r1; r++) for (let j = t.c0; j < t.c1; j++) expect(a.gNeg[r * l0.nOut + j]).toBe(a.gNeg[r * l0.nOut + t.c0]);
  });

  it('stuck-on and stuck-off data cells move a zero weight by +-colScale under the reference mapping; differential, stuck-off leaves it', () => {
    const dev = resolveDevice('reram-generic', { programSigma: 0 });
    const shift = (c: CircuitInput, faults: string) => {
      const p = plan({ ...idealCircuit, arrayRows: 32, arrayCols: 32, ...c });
      const lp = p.layers[1];
      const w0 = idealLayerWeights(lp, dev, p.circuit);
      const lc = programChip(p, dev, parseFaultSpec(`${faults}@layers=1`), 1, 0).layers[1];
      return Array.from(lc.wEff, (w, i) => [(w - w0[i]) / lp.colScale[0], w0[i] / lp.colScale[0]]);
    };
    // Layer 1's array under the reference mapping: 4 data columns, the reference at u = 0.9.
    // Every data cell stuck: the weight reads +1 (on) or -1 (off) colScale whatever its value.
    for (const [d, w] of shift({ mapping: 'reference' }, 'columns:from=0,to=0.8,kind=stuck-on')) expect(d + w).toBeCloseTo(1, 5);
    for (const [d, w] of shift({ mapping: 'reference' }, 'columns:from=0,to=0.8,kind=stuck-off')) expect(d + w).toBeCloseTo(-1, 5);
    // Differential: both cells of the pair stuck off, the weight reads 0; stuck on, too.
    for (const [d, w] of shift({}, 'random:sa0=1')) expect(d + w).toBeCloseTo(0, 5);
    for (const [d, w] of shift({}, 'random:sa1=1')) expect(d + w).toBeCloseTo(0, 5);
  });

  it('a weight split over N pairs averages independent programming noise down by sqrt(N)', () => {
    const big = buildModel({ inputShape: [8, 8, 1], layers: [{ type: 'flatten' }, { type: 'dense', units: 64 }] }, 5);
    const c = new Float32Array(64 * 10).map((_, i) => (i % 5) / 5);
    const dev = resolveDevice('reram-wan2022');
    const spread = (cells: number) => {
      const p = planCrossbars(big, resolveCircuit({ cellsPerWeight: cells }), c, 10, jsKernels);
      const lp = p.layers[0];
      const w0 = idealLayerWeights(lp, dev, p.circuit);
      const errs: number[] = [];
      for (let k = 0; k < 4; k++)
        programChip(p, dev, [], 7, k).layers[0].wEff.forEach((w, i) => {
          errs.push(w - w0[i]);
        });
      return std(errs);
    };
    // 4 chips x 4160 weights: the std of a std estimate is ~1% here; allow 5%.
    expect(spread(4) / spread(1)).toBeCloseTo(0.5, 1);
    expect(Math.abs(spread(4) / spread(1) - 0.5)).toBeLessThan(0.025);
  });

  it('the cost model counts the cells and sense lines of each scheme', () => {
    const tech = loadTech(undefined);
    const cost = (c: CircuitInput) => {
      const p = plan({ arrayRows: 8, arrayCols: 8, ...c });
      const base = chipBase(p, ideal).layers[0];
      return layerCost(
        { plan: p.layers[0], reads: 1, gPos: base.gPos, gNeg: base.gNeg, inputValues: 16, outputValues: 12 },
        p.circuit,
        tech,
        true,
        false,
      );
    };
    // 17 rows x 12 weight columns.
    expect(cost({}).cells).toBe(17 * 12 * 2);
    expect(cost({ cellsPerWeight: 2 }).cells).toBe(17 * 12 * 4);
    expect(cost({ cellsPerWeight: 2 }).arrays).toBe(2 * cost({}).arrays);
    // Reference: 12 data columns plus a reference column per column tile (2 tiles of 7 and 5).
    expect(cost({ mapping: 'reference' }).cells).toBe(17 * (12 + 2));
    expect(cost({ mapping: 'reference' }).arrays).toBe(3 * 2);
    // Its cell energy: data cells plus one reference cell per row and column tile, each once.
    const r = cost({ mapping: 'reference' });
    expect(r.conductance).toBeGreaterThan(0);
  });
});
