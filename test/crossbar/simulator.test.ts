import { describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import { Rng } from '../../src/core/rng.js';
import { programChip } from '../../src/crossbar/chip.js';
import { type CircuitInput, idealCircuit, resolveCircuit } from '../../src/crossbar/circuit.js';
import { defaultBatch, runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { chipRanges } from '../../src/crossbar/parallel-node.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { SharedWork } from '../../src/crossbar/shared-work.js';
import { simulateBatch } from '../../src/crossbar/simulate.js';
import { summarize } from '../../src/crossbar/stats.js';
import { take } from '../../src/data/index.js';
import { loadDataset } from '../../src/data/node.js';
import { type DeviceInput, resolveDevice } from '../../src/device/config.js';
import { type FaultSpec, parseFaultSpec, STUCK_OFF, STUCK_ON } from '../../src/faults/index.js';
import { argmaxRows } from '../../src/nn/loss.js';
import { buildModel, type Model } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { train } from '../../src/nn/train.js';

const kernels = loadKernels();
const digits = loadDataset('digits8', { limitTrain: 3000, limitTest: 1000 });
const model = buildModel(presets['mlp-paper'].spec, 1);
train(model, digits.train, null, { epochs: 8, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'cosine', seed: 2 }, kernels);
const softwarePred = argmaxRows(model.predict(digits.test.x, digits.test.n, kernels), 10);
const softwareAcc = softwarePred.filter((p, i) => p === digits.test.y[i]).length / digits.test.n;

const calib = (m: Model, split = digits.train) => split.x.subarray(0, Math.min(split.n, 500) * m.inputSize);
const plan = (circuit: CircuitInput, m: Model = model, split = digits.train) =>
  planCrossbars(m, resolveCircuit(circuit), calib(m, split), Math.min(split.n, 500), kernels);
const device = (d: string | DeviceInput, o: Partial<DeviceInput> = {}) => resolveDevice(d, o);
const mc = (p: ReturnType<typeof plan>, dev: ReturnType<typeof device>, faults: FaultSpec, chips = 12, seed = 5, split = digits.test) =>
  runMonteCarlo(model, p, dev, faults, split, { chips, seed }, kernels);

describe('ideal crossbar', () => {
  it('reproduces the software network exactly: same prediction on every test image', () => {
    for (const arraySize of [128, 16]) {
      const p = plan({ ...idealCircuit, arrayRows: arraySize, arrayCols: arraySize });
      const chip = programChip(p, device('ideal'), [], 1, 0);
      const out = simulateBatch(model, p, chip.layers, device('ideal'), digits.test.x, digits.test.n, { kernels, rng: null });
      const sw = model.predict(digits.test.x, digits.test.n, kernels);
      let maxErr = 0;
      for (let i = 0; i < sw.length; i++) maxErr = Math.max(maxErr, Math.abs(out.data[i] - sw[i]));
      expect(maxErr).toBeLessThan(1e-4);
      expect(argmaxRows(out.data, 10)).toEqual(softwarePred);
    }
    const r = mc(plan(idealCircuit), device('ideal'), [], 3);
    for (const c of r.chips) expect(c.accuracy).toBe(softwareAcc);
  });

  it("per-column scaling uses each column's own largest weight and stays exact on an ideal chip", () => {
    const p = plan({ ...idealCircuit, scaling: 'column' });
    const lp = p.layers[0];
    for (let j = 0; j < lp.nOut; j++) {
      let m = 0;
      for (let i = 0; i <= lp.nIn; i++) m = Math.max(m, Math.abs(lp.A[i * lp.nOut + j]));
      expect(lp.colScale[j]).toBe(m);
    }
    const chip = programChip(p, device('ideal'), [], 1, 0);
    const out = simulateBatch(model, p, chip.layers, device('ideal'), digits.test.x, digits.test.n, { kernels, rng: null });
    expect(argmaxRows(out.data, 10)).toEqual(softwarePred);
    // a stuck-on cell in a small-weight column now costs that column's scale, not the layer's
    const d = device('reram-generic', { programSigma: 0 });
    const faults = parseFaultSpec('random:sa1=0.01');
    expect(mc(plan({ scaling: 'column' }), d, faults, 30).summary.mean).toBeGreaterThan(mc(plan({}), d, faults, 30).summary.mean);
  });

  it('tiles a layer larger than the array and combines the partial sums', () => {
    const p = plan({ arrayRows: 16, arrayCols: 8 });
    const first = p.layers[0];
    // 65 rows (64 inputs + bias) over 16-row arrays, 8 weight columns over 4-column arrays
    expect(first.rowTiles.length).toBe(5);
    expect(first.rowTiles[0].length).toBe(2);
    expect(first.tiles.map((t) => (t.r1 - t.r0) * (t.c1 - t.c0)).reduce((a, b) => a + b, 0)).toBe(65 * 8);
  });

  it('a 6-bit DAC and an 8-bit ADC lose a little accuracy, not much', () => {
    const r = mc(plan({ dacBits: 6, adcBits: 8 }), device('ideal'), [], 1);
    expect(r.summary.mean).toBeGreaterThan(softwareAcc - 0.08);
    expect(r.summary.mean).toBeLessThanOrEqual(softwareAcc + 0.02);
  });
});

describe('programming variation and read noise', () => {
  it('accuracy falls as sigma grows', () => {
    const p = plan({});
    const means = [0, 0.1, 0.3, 0.8].map((s) => mc(p, device('reram-generic', { programSigma: s }), [], 16).summary.mean);
    expect(means[0]).toBeGreaterThan(softwareAcc - 0.02);
    for (let i = 1; i < means.length; i++) expect(means[i]).toBeLessThan(means[i - 1] + 0.01);
    expect(means[3]).toBeLessThan(means[0] - 0.1);
  });

  it('is log-normal and multiplicative on each conductance', () => {
    const p = plan({});
    const d = device('reram-generic', { programSigma: 0.2, levels: 0 });
    const ideal = programChip(p, device('reram-generic', { programSigma: 0, levels: 0 }), [], 1, 0).layers[0];
    const chip = programChip(p, d, [], 1, 0).layers[0];
    const logs = Array.from(chip.gPos, (g, i) => Math.log(g / ideal.gPos[i]));
    const s = summarize(logs);
    expect(Math.abs(s.mean)).toBeLessThan(0.03);
    expect(Math.abs(s.std - 0.2)).toBeLessThan(0.02);
  });

  it('read noise changes outputs per inference but is reproducible from the seed', () => {
    const p = plan({});
    const d = device('reram-generic', { programSigma: 0, readNoise: 0.2 });
    const a = mc(p, d, [], 3, 9);
    const b = mc(p, d, [], 3, 9);
    expect(a.chips).toEqual(b.chips);
    expect(a.summary.mean).toBeLessThan(softwareAcc);
  });
});

describe('stuck-at faults', () => {
  it('accuracy falls as the fault rate grows', () => {
    const p = plan({});
    const d = device('reram-generic', { programSigma: 0 });
    const means = [0, 0.01, 0.04, 0.15].map((r) => mc(p, d, r ? parseFaultSpec(`random:sa0=${r / 2},sa1=${r / 2}`) : [], 16).summary.mean);
    for (let i = 1; i < means.length; i++) expect(means[i]).toBeLessThan(means[i - 1] + 0.01);
    expect(means[3]).toBeLessThan(means[0] - 0.1);
  });

  it('each stuck cell stays stuck where its weight lands, in every tile', () => {
    const p = plan({ arrayRows: 16, arrayCols: 8 });
    const d = device('reram-liu2017');
    const chip = programChip(p, d, parseFaultSpec('random:sa0=0.1,sa1=0.1@layers=0'), 3, 7);
    const lc = chip.layers[0];
    let checked = 0;
    p.layers[0].tiles.forEach((t, k) => {
      const map = lc.faults[k];
      expect(map).not.toBeNull();
      if (!map) return;
      expect([map.rows, map.cols]).toEqual([t.r1 - t.r0, 2 * (t.c1 - t.c0)]);
      for (let r = 0; r < map.rows; r++)
        for (let c = 0; c < map.cols; c++) {
          const kind = map.kind[r * map.cols + c];
          const cell = (t.r0 + r) * p.layers[0].nOut + t.c0 + (c >> 1);
          const g = c & 1 ? lc.gNeg[cell] : lc.gPos[cell];
          if (kind === STUCK_ON) expect(g).toBeGreaterThanOrEqual(d.stuckOn[0] * (1 - 1e-6));
          if (kind === STUCK_OFF) expect(g).toBeLessThanOrEqual(d.stuckOff[1] * (1 + 1e-6));
          if (kind) checked++;
        }
    });
    const perTile = p.layers[0].tiles.map((t) => 2 * Math.round(0.1 * (t.r1 - t.r0) * 2 * (t.c1 - t.c0)));
    expect(checked).toBe(perTile.reduce((a, b) => a + b, 0));
    expect(lc.faultyCells).toBeGreaterThan(0);
    // layers not named by the spec have no faults
    expect(chip.layers[1].faults.every((f) => f === null)).toBe(true);
  });

  it('stuck-on and stuck-off both hurt; faults on a chosen layer only affect that layer', () => {
    const p = plan({});
    const d = device('reram-generic', { programSigma: 0 });
    const on = mc(p, d, parseFaultSpec('random:sa1=0.1'), 12).summary.mean;
    const off = mc(p, d, parseFaultSpec('random:sa0=0.1'), 12).summary.mean;
    expect(on).toBeLessThan(softwareAcc - 0.02);
    expect(off).toBeLessThan(softwareAcc);
    const r = mc(p, d, parseFaultSpec('random:sa1=0.1@layers=2'), 4);
    for (const c of r.chips) expect(c.faultyWeights[0] + c.faultyWeights[1] + c.faultyWeights[3]).toBe(0);
  });
});

describe('Monte Carlo', () => {
  it('every chip is reproducible from (seed, chip index), whatever the batch, chunk or range', () => {
    const p = plan({});
    const d = device('reram-generic', { programSigma: 0.15, readNoise: 0.05 });
    const faults = parseFaultSpec('circle:radius=0.3,density=0.3+random:sa0=0.01');
    const all = runMonteCarlo(model, p, d, faults, digits.test, { chips: 6, seed: 11 }, kernels);
    const part = runMonteCarlo(model, p, d, faults, digits.test, { chips: 2, seed: 11, firstChip: 3, chipsPerChunk: 1 }, kernels);
    expect(part.chips).toEqual(all.chips.slice(3, 5));
    const other = runMonteCarlo(model, p, d, faults, digits.test, { chips: 6, seed: 12 }, kernels);
    expect(other.chips.map((c) => c.correct)).not.toEqual(all.chips.map((c) => c.correct));
  });

  it('work shared across runs (a worker given ranges of chips) changes no chip, and is dropped for another run', () => {
    const p = plan({});
    const sigma = device('reram-generic', { programSigma: 0.1 });
    const stuck = device('reram-generic', { programSigma: 0 });
    const faults = parseFaultSpec('random:sa0=0.003,sa1=0.003');
    const cases: [ReturnType<typeof device>, FaultSpec][] = [
      [sigma, []],
      [stuck, faults],
    ];
    for (const [d, f] of cases) {
      const all = runMonteCarlo(model, p, d, f, digits.test, { chips: 5, seed: 8, batchSize: 300 }, kernels);
      for (const share of [new SharedWork(), new SharedWork(0)]) {
        const parts = [0, 2, 3].flatMap(
          (first, i) =>
            runMonteCarlo(
              model,
              p,
              d,
              f,
              digits.test,
              { chips: [2, 1, 2][i], seed: 8, firstChip: first, batchSize: 300 },
              kernels,
              {},
              share,
            ).chips,
        );
        expect(parts).toEqual(all.chips);
        // The same holder on another test set: its batches are not reused.
        const half = take(digits.test, 500);
        const other = runMonteCarlo(model, p, d, f, half, { chips: 2, seed: 8, batchSize: 300 }, kernels, {}, share);
        expect(other.chips).toEqual(runMonteCarlo(model, p, d, f, half, { chips: 2, seed: 8, batchSize: 300 }, kernels).chips);
      }
    }
  });

  it('image batch size does not change results without read noise', () => {
    const p = plan({});
    const d = device('reram-generic');
    const faults = parseFaultSpec('random:sa0=0.02,sa1=0.02');
    const a = runMonteCarlo(model, p, d, faults, digits.test, { chips: 3, seed: 2, batchSize: 1000 }, kernels);
    const b = runMonteCarlo(model, p, d, faults, digits.test, { chips: 3, seed: 2, batchSize: 77 }, kernels);
    expect(b.chips).toEqual(a.chips);
  });

  it('the sparse fault path equals a full product on every chip', () => {
    // programSigma 0 takes the shared clean product + stuck-cell corrections; a tiny sigma forces full GEMMs.
    const p = plan({});
    const faults = parseFaultSpec('random:sa0=0.004,sa1=0.004');
    const chip = programChip(p, device('reram-generic', { programSigma: 0 }), faults, 5, 0);
    expect(chip.layers[0].sparse).not.toBeNull();
    const sparse = mc(p, device('reram-generic', { programSigma: 0 }), faults, 4);
    const full = mc(p, device('reram-generic', { programSigma: 1e-9 }), faults, 4);
    for (const [i, c] of sparse.chips.entries()) expect(Math.abs(c.correct - full.chips[i].correct)).toBeLessThanOrEqual(1);
  });

  it('streams output voltages of every chip and image', () => {
    const p = plan({});
    let seen = 0;
    runMonteCarlo(model, p, device('reram-generic'), [], take(digits.test, 300), { chips: 2, seed: 1, batchSize: 128 }, kernels, {
      onOutputs: (_chip, _first, volts, count) => {
        expect(volts.length).toBe(count * 10);
        for (const v of volts) expect(Math.abs(v)).toBeLessThanOrEqual(p.circuit.vRead * p.circuit.railHeadroom + 1e-6);
        seen += count;
      },
    });
    expect(seen).toBe(600);
  });

  it('shares the first varying layer between chips without changing any chip (conv, DAC/ADC, read noise)', () => {
    const cnn = buildModel(presets.lenet5.spec, 4);
    const mnist = loadDataset('mnist', { limitTrain: 200, limitTest: 60 });
    for (const circuit of [{}, { dacBits: 4, adcBits: 6, arrayRows: 64, arrayCols: 64 }]) {
      const p = planCrossbars(cnn, resolveCircuit(circuit), mnist.train.x, 200, kernels);
      const cases: [ReturnType<typeof device>, FaultSpec][] = [
        [device('reram-generic', { programSigma: 0.3 }), []],
        [device('reram-generic', { readNoise: 0.05 }), parseFaultSpec('random:sa1=0.001@layers=1')],
      ];
      for (const [d, faults] of cases) {
        const r = runMonteCarlo(cnn, p, d, faults, mnist.test, { chips: 3, seed: 3, batchSize: 25 }, kernels);
        // The same chips simulated one at a time from the input, nothing shared.
        r.chips.forEach((c) => {
          const chip = programChip(p, d, faults, 3, c.chip);
          let correct = 0;
          for (let s = 0, b = 0; s < mnist.test.n; s += 25, b++) {
            const n = Math.min(25, mnist.test.n - s);
            const rng = d.readNoise > 0 ? Rng.derive(3, c.chip, 1_000_003, b) : null;
            const out = simulateBatch(cnn, p, chip.layers, d, mnist.test.x.subarray(s * 784, (s + n) * 784), n, { kernels, rng });
            argmaxRows(out.data, 10).forEach((pred, i) => {
              if (pred === mnist.test.y[s + i]) correct++;
            });
          }
          expect(c.correct).toBe(correct);
        });
      }
    }
  });

  it('runs a batch of a conv network in blocks of images with the bits of small batches (variation, faults, the stuck-cell shortcut)', () => {
    const cnn = buildModel(presets.lenet5.spec, 5);
    const mnist = loadDataset('mnist', { limitTrain: 200, limitTest: 70 });
    const p = planCrossbars(cnn, resolveCircuit({}), mnist.train.x, 200, kernels);
    const n = mnist.test.n; // 70 images: blocks of 27 (2^17 floats / LeNet-5's 28 x 28 x 6 first map)
    const cases: [ReturnType<typeof device>, FaultSpec][] = [
      [device('reram-generic', { programSigma: 0.3 }), []],
      [device('reram-generic', { programSigma: 0 }), parseFaultSpec('random:sa0=0.05,sa1=0.05')],
    ];
    for (const [d, faults] of cases) {
      const chip = programChip(p, d, faults, 7, 2);
      // The activations entering the first dense layer (layer 6, the flatten): the dense GEMMs' sums
      // depend on the batch size in OpenBLAS, the image layers' must not.
      const flat = cnn.layers.findIndex((l) => l.spec.type === 'flatten');
      const whole = simulateBatch(cnn, p, chip.layers, d, mnist.test.x, n, { kernels, rng: null, until: flat }).data;
      // Batches of 10 images run without blocks (at most 27 images).
      const tens = new Float32Array(whole.length);
      for (let i = 0; i < n; i += 10) {
        const part = mnist.test.x.subarray(i * 784, (i + 10) * 784);
        tens.set(simulateBatch(cnn, p, chip.layers, d, part, 10, { kernels, rng: null, until: flat }).data, (i * whole.length) / n);
      }
      expect(Buffer.from(whole.buffer).equals(Buffer.from(tens.buffer))).toBe(true);
    }
    // A Monte Carlo over the same images in one batch and in batches of 9 (blocks, the stuck-cell shortcut's shared product).
    const d = device('reram-generic', { programSigma: 0 });
    const faults = parseFaultSpec('random:sa0=0.002,sa1=0.002');
    const a = runMonteCarlo(cnn, p, d, faults, mnist.test, { chips: 3, seed: 5, batchSize: 70 }, kernels);
    const b = runMonteCarlo(cnn, p, d, faults, mnist.test, { chips: 3, seed: 5, batchSize: 9 }, kernels);
    expect(programChip(p, d, faults, 5, 0).layers[0].sparse).not.toBeNull();
    expect(b.chips).toEqual(a.chips);
  });

  it('picks image batches by network size: more for tiny layers, fewer for large convolutions', () => {
    const batch = (name: string) => {
      const m = buildModel(presets[name].spec, 1);
      const calib = new Float32Array(4 * m.inputSize).fill(0.5);
      return defaultBatch(m, planCrossbars(m, resolveCircuit({}), calib, 4, kernels));
    };
    expect(['mlp-paper', 'mlp', 'lenet5', 'vgg-small'].map(batch)).toEqual([10000, 1000, 1000, 250]);
  });

  it('works on a convolutional network', () => {
    const cnn = buildModel(presets.lenet5.spec, 3);
    const mnist = loadDataset('mnist', { limitTrain: 200, limitTest: 50 });
    const p = planCrossbars(cnn, resolveCircuit(idealCircuit), mnist.train.x, 200, kernels);
    const chip = programChip(p, device('ideal'), [], 1, 0);
    const out = simulateBatch(cnn, p, chip.layers, device('ideal'), mnist.test.x, 50, { kernels, rng: null });
    const sw = cnn.predict(mnist.test.x, 50, kernels);
    for (let i = 0; i < sw.length; i++) expect(Math.abs(out.data[i] - sw[i])).toBeLessThan(1e-3);
    const r = runMonteCarlo(
      cnn,
      p,
      device('reram-generic'),
      parseFaultSpec('rows:from=0,to=0.1'),
      mnist.test,
      { chips: 2, seed: 1 },
      kernels,
    );
    expect(r.chips).toHaveLength(2);
  });
});

describe('summary statistics', () => {
  it('mean, sample std, t-based 95% interval and percentiles', () => {
    const s = summarize([0.5, 0.6, 0.7]);
    expect(s.mean).toBeCloseTo(0.6, 12);
    expect(s.std).toBeCloseTo(0.1, 12);
    expect(s.ci95[0]).toBeCloseTo(0.6 - (4.303 * 0.1) / Math.sqrt(3), 9);
    // Two chips near 100%: the interval of the mean stops at 1.
    expect(summarize([0.99, 0.9967]).ci95[1]).toBe(1);
    expect(summarize([-5, 5], [-Infinity, Infinity]).ci95[1]).toBeGreaterThan(5);
    expect([s.min, s.max]).toEqual([0.5, 0.7]);
    expect(summarize([0.3]).std).toBe(0);
    expect(Number.isNaN(summarize([]).mean)).toBe(true);
  });
});

describe('chipRanges (the parallel runner hands these out to free workers)', () => {
  it('covers every chip once, in order, in ranges that shrink to single chips, capped at the chunk size', () => {
    for (const [first, chips, workers, max] of [
      [0, 100, 2, 16],
      [5, 7, 2, 16],
      [0, 1000, 2, 16],
      [3, 1, 4, 16],
      [0, 50, 1, 4],
    ]) {
      const r = chipRanges(first, chips, workers, max);
      const all = r.flatMap((t) => Array.from({ length: t.chips }, (_, i) => t.first + i));
      expect(all).toEqual(Array.from({ length: chips }, (_, i) => first + i));
      expect(Math.max(...r.map((t) => t.chips))).toBeLessThanOrEqual(Math.min(max, Math.ceil(chips / (4 * workers))));
      // Never larger than an earlier range, and the last ranges are single chips.
      for (let i = 1; i < r.length; i++) expect(r[i].chips).toBeLessThanOrEqual(r[i - 1].chips);
      expect(r[r.length - 1].chips).toBe(1);
    }
    // The mlp bench's 100 chips on 2 workers: few ranges (each repeats what does not fit the shared budget).
    expect(chipRanges(0, 100, 2).length).toBeLessThan(30);
  });
});
