import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { loadDataset } from '../../src/data/node.js';
import { resolveDevice } from '../../src/device/config.js';
import {
  calibrateAndSimulate,
  calibrateChip,
  calibratedChipAccuracy,
  calibrationPlacementProblem,
  calibrationSites,
  chipFaultSpec,
  frozenPrefix,
  withChipRails,
} from '../../src/mitigation/correctnet/calibration.js';
import { compensationCost, trainCompensation, withCompensation } from '../../src/mitigation/correctnet/compensation.js';
import { head, mean, softwareChipAccuracy } from '../../src/mitigation/correctnet/correctnet.js';
import { resolvePopulation } from '../../src/mitigation/population.js';
import { buildModel, type Model } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { train } from '../../src/nn/train.js';

/** mlp-paper trained on 3000 digits8 images (8 epochs): a network that variation hurts. */
function trainedPaper() {
  const digits = loadDataset('digits8', { limitTrain: 3000, limitTest: 600 });
  const base = buildModel(presets['mlp-paper'].spec, 1);
  const cfg = { epochs: 8, batchSize: 64, optimizer: { name: 'adam' as const, lr: 0.01 }, schedule: 'cosine' as const, seed: 2 };
  train(base, digits.train, null, cfg, jsKernels);
  return { digits, base };
}

describe('calibrationSites', () => {
  it('puts a module after every layer, as large as the budget allows, cheapest sites first', () => {
    const mlp = buildModel(presets.mlp.spec, 1);
    const sites = calibrationSites(mlp, [4, 16], 1, 0.05);
    expect(sites.map((s) => [s.layer, s.rank])).toEqual([
      [0, 4],
      [1, 16],
      [2, 16],
      [3, 16],
    ]);
    const share = compensationCost(withCompensation(mlp, sites)).paramsShare;
    expect(share).toBeLessThanOrEqual(0.05);
    expect(share).toBeGreaterThan(0.035);
    // A tight budget keeps the per-channel affines only; below them it says so.
    expect(calibrationSites(mlp, [4, 16], 1, 0.004).map((s) => s.rank)).toEqual([0, 0, 0, 0]);
    expect(() => calibrationSites(mlp, [4, 16], 1, 0.001)).toThrow(/per-channel modules after every layer already cost 0.38%/);
    // Convolutional layers get the requested kernel, dense ones 1.
    const lenet = calibrationSites(buildModel(presets.lenet5.spec, 1), [4], 3, 0.05);
    expect(lenet[0].kernel).toBe(3);
    expect(lenet[4].kernel).toBe(1);
  });
});

describe('frozenPrefix', () => {
  it('trains the modules to the same bits as the full forward pass, from the prefix outputs computed once', () => {
    const digits = loadDataset('digits8', { limitTrain: 300, limitTest: 10 });
    const base = buildModel(presets['mlp-paper'].spec, 1);
    const sites = calibrationSites(base, [2], 1, 0.3);
    const trainAll = (m: Model, data = digits.train) =>
      train(
        m,
        data,
        null,
        {
          epochs: 2,
          batchSize: 32,
          optimizer: { name: 'adam', lr: 0.01 },
          schedule: 'cosine',
          seed: 3,
          trainable: modules(m),
          dropout: false,
        },
        jsKernels,
      );
    const modules = (m: Model) => m.params.filter((p) => p.name.startsWith('comp')).map((p) => p.name);
    const full = withCompensation(base, sites);
    const cached = withCompensation(base, sites);
    expect(modules(full).length).toBeGreaterThan(0);
    trainAll(full);
    const prefix = frozenPrefix(cached, new Set(modules(cached)), digits.train, jsKernels);
    if (!prefix) throw new Error('expected a frozen prefix');
    expect(prefix.suffix.layers.length).toBeLessThan(cached.layers.length);
    trainAll(prefix.suffix, prefix.data);
    expect(cached.params.map((p) => Array.from(p.value))).toEqual(full.params.map((p) => Array.from(p.value)));
    // A module on the first layer leaves nothing to cache.
    expect(frozenPrefix(cached, new Set(cached.params.map((p) => p.name)), digits.train, jsKernels)).toBeNull();
  });
});

describe('per-chip calibration', () => {
  it('on chips with stuck cells: without faults it is the variation-only path bit for bit; with them the simulator agrees and accuracy recovers', () => {
    const { digits, base } = trainedPaper();
    const device = resolveDevice('reram-generic', { programSigma: 0.1 });
    const test = head(digits.test, 400);
    const calib = { x: digits.train.x.subarray(0, 500 * 64), n: 500 };
    const circuit = resolveCircuit({});
    const sites = calibrationSites(base, [4], 1, 0.2);
    const data = head(digits.train, 1000);
    const cfg = { device, seed: 3, epochs: 6, batchSize: 64, lr: 0.01, rails: calib };
    const calibrated = (chip: number, faults?: Parameters<typeof calibrateChip>[2]['faults']) => {
      const m = withCompensation(base, sites);
      const cal = calibrateChip(m, data, { ...cfg, chip, trainSeed: 9 + chip, faults }, jsKernels);
      return { m, cal, params: m.params.map((p) => Array.from(p.value)) };
    };
    // No stuck cells: the programmed chip is the WeightNoise chip, so the modules come out the same.
    const plain = calibrated(0);
    const programmed = calibrated(0, { circuit, spec: [] });
    expect(programmed.params).toEqual(plain.params);
    expect(programmed.cal.rails).toEqual(plain.cal.rails);
    // Chips drawn from a defect population (stuck-on rows and columns on the output layer).
    const population = resolvePopulation({
      patterns: ['rows', 'columns'],
      kinds: { 'stuck-on': 1, 'stuck-off': 0, 'stuck-at': 0 },
      density: { 'stuck-on': [0.3, 0.3] },
    });
    const faults = { circuit, population };
    const before: number[] = [];
    const after: number[] = [];
    for (let c = 0; c < 3; c++) {
      const { m, cal } = calibrated(c, faults);
      const sw = calibratedChipAccuracy(m, test, cal, { ...cfg, faults }, jsKernels);
      // The simulator's chip c with its own defect, modules and rails agrees with the software reading.
      const sim = calibrateAndSimulate(
        withCompensation(base, sites),
        data,
        { ...cfg, chip: c, trainSeed: 9 + c, faults },
        circuit,
        test,
        jsKernels,
      );
      expect(sim.accuracy).toBeCloseTo(sw, 6);
      after.push(sim.accuracy);
      const plan = planCrossbars(base, circuit, calib.x, calib.n, jsKernels);
      const spec = chipFaultSpec({ faults, seed: cfg.seed, chip: c }, plan.layers.length);
      expect(spec[0].patterns).toHaveLength(1);
      const damaged = runMonteCarlo(base, plan, device, spec, test, { chips: 1, seed: cfg.seed, firstChip: c }, jsKernels);
      before.push(damaged.chips[0].accuracy);
    }
    expect(mean(after)).toBeGreaterThan(mean(before) + 0.1);
  });

  it('beats chip-independent modules on the same chips, and the simulator agrees chip for chip', () => {
    const { digits, base } = trainedPaper();
    const device = resolveDevice('reram-generic', { programSigma: 0.8 });
    const test = head(digits.test, 600);
    const calib = { x: digits.train.x.subarray(0, 500 * 64), n: 500 };
    const sites = calibrationSites(base, [4, 8], 1, 0.3);
    const seed = 5;
    const chips = 4;
    // Chip-independent: the same modules, trained over random chips.
    const shared = withCompensation(base, sites);
    trainCompensation(shared, digits.train, null, { epochs: 4, batchSize: 64, lr: 0.01, device, seed: 3 }, jsKernels);
    const independent = mean(softwareChipAccuracy(shared, test, device, chips, seed, jsKernels, { calib }));
    const plainAcc = mean(softwareChipAccuracy(base, test, device, chips, seed, jsKernels, { calib }));
    const data = head(digits.train, 1000);
    const perChip: number[] = [];
    for (let c = 0; c < chips; c++) {
      const m = withCompensation(base, sites);
      const frozen = base.params.map((p) => Float32Array.from(p.value));
      const cal = calibrateChip(
        m,
        data,
        { device, seed, chip: c, epochs: 10, batchSize: 64, lr: 0.01, trainSeed: 9 + c, rails: calib },
        jsKernels,
      );
      // The network's own weights are back to clean, the modules moved.
      const byName = new Map(m.params.map((p) => [p.name, p]));
      base.params.forEach((p, i) => {
        expect(byName.get(p.name)?.value).toEqual(frozen[i]);
      });
      expect(cal.rails).toHaveLength(4);
      expect(cal.history).toHaveLength(10);
      const sw = calibratedChipAccuracy(m, test, cal, { device, seed }, jsKernels);
      // The crossbar simulator's chip c of the same seed, with the chip's modules and rails.
      const plan = withChipRails(planCrossbars(m, resolveCircuit({}), calib.x, calib.n, jsKernels), cal.rails);
      const sim = runMonteCarlo(m, plan, device, [], test, { chips: 1, seed, firstChip: c }, jsKernels);
      expect(sim.chips[0].accuracy).toBeCloseTo(sw, 6);
      perChip.push(sw);
    }
    expect(mean(perChip)).toBeGreaterThan(independent + 0.1);
    expect(mean(perChip)).toBeGreaterThan(plainAcc + 0.1);
  });

  it('distillation (loss kd) calibrates from the clean network alone: scrambled labels change nothing', () => {
    const { digits, base } = trainedPaper();
    const device = resolveDevice('reram-generic', { programSigma: 0.8 });
    const test = head(digits.test, 600);
    const calib = { x: digits.train.x.subarray(0, 500 * 64), n: 500 };
    const sites = calibrationSites(base, [4, 8], 1, 0.3);
    const data = head(digits.train, 1000);
    const scrambled = { ...data, y: data.y.map((v) => (v + 3) % 10) };
    const cfg = { device, seed: 5, epochs: 10, batchSize: 64, lr: 0.01, rails: calib };
    const run = (d: typeof data, loss: 'ce' | 'kd', chip: number) => {
      const m = withCompensation(base, sites);
      const cal = calibrateChip(m, d, { ...cfg, chip, trainSeed: 9 + chip, loss }, jsKernels);
      return { acc: calibratedChipAccuracy(m, test, cal, cfg, jsKernels), params: m.params.map((p) => Array.from(p.value)) };
    };
    const plainAcc = mean(softwareChipAccuracy(base, test, device, 2, 5, jsKernels, { calib }));
    const kd = [0, 1].map((c) => run(data, 'kd', c));
    expect(mean(kd.map((r) => r.acc))).toBeGreaterThan(plainAcc + 0.1);
    // The labels are not read: the same modules, bit for bit, with wrong labels.
    expect(run(scrambled, 'kd', 0).params).toEqual(kd[0].params);
    // Fitting the scrambled labels instead learns the scrambling.
    expect(run(scrambled, 'ce', 0).acc).toBeLessThan(kd[0].acc - 0.1);
  });

  it('rejects a model without modules, an empty calibration set and mismatched rails', () => {
    const base = buildModel(presets['mlp-paper'].spec, 1);
    const digits = loadDataset('digits8', { limitTrain: 100, limitTest: 10 });
    const device = resolveDevice('reram-generic', { programSigma: 0.5 });
    const cfg = { device, seed: 1, chip: 0, epochs: 1, batchSize: 16, lr: 0.01, trainSeed: 1, rails: { x: digits.train.x, n: 100 } };
    expect(() => calibrateChip(base, digits.train, cfg, jsKernels)).toThrow(/no compensation modules/);
    const m = withCompensation(base, [{ layer: 1, rank: 2 }]);
    expect(() => calibrateChip(m, head(digits.train, 0), cfg, jsKernels)).toThrow(/at least one image/);
    const plan = planCrossbars(m, resolveCircuit({}), digits.train.x, 100, jsKernels);
    expect(() => withChipRails(plan, [1, 2])).toThrow(/2 rails for 4 weighted layers/);
  });
});

describe('calibrationPlacementProblem', () => {
  it('scores a placement by calibrating each search chip; no modules = the chips with the simulator rails', async () => {
    const { digits, base } = trainedPaper();
    const device = resolveDevice('reram-generic', { programSigma: 1 });
    const val = head(digits.train, 400);
    const rails = { x: digits.train.x.subarray(0, 500 * 64), n: 500 };
    const sensitivity = [0, 1, 2, 3].map((layer) => ({ layer, accuracy: 0.5, drop: 0.1 * layer }));
    const problem = calibrationPlacementProblem(
      {
        base,
        ranks: [0, 4],
        kernel: 1,
        budget: 0.3,
        overheadWeight: 0.1,
        sensitivity,
        data: head(digits.train, 800),
        val,
        device,
        chips: 3,
        seed: 7,
        epochs: 8,
        batchSize: 64,
        lr: 0.01,
        rails,
      },
      jsKernels,
    );
    expect(problem.actions).toEqual(['none', 'affine', 'rank 4']);
    expect(problem.cost(0, 0)).toBe(0);
    expect(problem.cost(0, 2)).toBeGreaterThan(problem.cost(0, 1));
    const none = await problem.evaluate([0, 0, 0, 0]);
    expect(none).toBeCloseTo(mean(softwareChipAccuracy(base, val, device, 3, 7, jsKernels, { calib: rails })), 12);
    // Calibrated modules everywhere recover much of what sigma 1 takes.
    const everywhere = await problem.evaluate([2, 2, 2, 2]);
    expect(everywhere).toBeGreaterThan(none + 0.1);
    // The same configuration, the same chips: the same score (common random numbers for the search).
    expect(await problem.evaluate([2, 2, 2, 2])).toBe(everywhere);
  });
});
