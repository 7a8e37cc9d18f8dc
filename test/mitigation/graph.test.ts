import { describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { take } from '../../src/data/index.js';
import { loadDataset } from '../../src/data/node.js';
import { resolveDevice } from '../../src/device/config.js';
import { calibrateChip, calibratedChipAccuracy, withChipRails } from '../../src/mitigation/correctnet/calibration.js';
import { sitesOf, trainCompensation, withCompensation, withoutCompensation } from '../../src/mitigation/correctnet/compensation.js';
import { errorAmplification } from '../../src/mitigation/correctnet/correctnet.js';
import { correctChip, trainCorrector } from '../../src/mitigation/corrector/corrector.js';
import { evaluateChips, generateVoltageSet, makeEnv, makeProbes } from '../../src/mitigation/corrector/data.js';
import { resolvePopulation } from '../../src/mitigation/population.js';
import { foldBatchNorm } from '../../src/nn/fold.js';
import { buildModel } from '../../src/nn/model.js';
import { resnetSpec } from '../../src/nn/presets.js';
import { evaluate, train } from '../../src/nn/train.js';

const kernels = jsKernels;
const digits = loadDataset('digits8', { limitTrain: 2000, limitTest: 300 });
// A two-stage ResNet on 8x8 digits: identity and projection shortcuts, batch norms, global pooling.
const spec = resnetSpec([8, 8, 1], [8, 12, 16], 1, 10);
const base = buildModel(spec, 1);
train(base, digits.train, null, { epochs: 4, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'cosine', seed: 2 }, kernels);
const folded = foldBatchNorm(base);
const calib = { x: digits.train.x.subarray(0, 300 * 64), n: 300 };
const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
const names = (m: typeof base) => m.graph?.names ?? [];

describe('mitigation on a graph network', () => {
  it('CorrectNet modules go after a weighted node (before a residual addition), start as the identity, train alone, and come back out', () => {
    // Weighted layers: stem 0, s1b1_conv1 1, s1b1_conv2 2, s2b1_conv1 3, s2b1_conv2 4, s2b1_proj 5, s3b1_conv1 6, s3b1_conv2 7, s3b1_proj 8, fc 9.
    const sites = [
      { layer: 1, rank: 2, kernel: 3 },
      { layer: 4, rank: 0 },
      { layer: 5, rank: 1 },
      { layer: 9, rank: 0 },
    ];
    const m = withCompensation(base, sites);
    const n = names(m);
    const readerOf = (node: string) => n[m.graph?.inputs.findIndex((ins) => ins.includes(n.indexOf(node))) ?? -1];
    // After the relu of conv1; after conv2's batch norm, before the addition; after the projection's norm; after fc.
    expect(readerOf('s1b1_relu1')).toBe('comp1');
    expect(readerOf('s2b1_bn2')).toBe('comp4');
    expect(readerOf('s2b1_proj_bn')).toBe('comp5');
    expect(n.at(-1)).toBe('comp9');
    expect(sitesOf(m)).toEqual(sites);
    expect(m.predict(digits.test.x, digits.test.n, kernels)).toEqual(base.predict(digits.test.x, digits.test.n, kernels));
    const frozen = base.params.map((p) => Float32Array.from(p.value));
    const device = resolveDevice('reram-generic', { programSigma: 0.5, readNoise: 0 });
    trainCompensation(m, take(digits.train, 600), null, { epochs: 1, batchSize: 64, lr: 0.01, device, seed: 3 }, kernels);
    // The network, batch norm statistics included, is untouched; the modules moved.
    const byName = new Map(m.params.map((p) => [p.name, p]));
    base.params.forEach((p, i) => {
      expect(byName.get(p.name)?.value).toEqual(frozen[i]);
    });
    expect(byName.get('comp4.scale')?.value.some((v) => v !== 0)).toBe(true);
    const back = withoutCompensation(m);
    expect(back.graph?.names).toEqual(base.graph?.names);
    expect(back.graph?.inputs).toEqual(base.graph?.inputs);
    expect(back.predict(digits.test.x, digits.test.n, kernels)).toEqual(base.predict(digits.test.x, digits.test.n, kernels));
  });

  it('error amplification measures every weighted node of the graph', () => {
    const amp = errorAmplification(folded, take(digits.test, 100), resolveDevice('reram-generic', { programSigma: 0.3 }), 2, 1, kernels);
    expect(amp).toHaveLength(10);
    expect(amp[0].amplification).toBeNull();
    for (const a of amp.slice(1)) expect(a.amplification).toBeGreaterThan(0);
  });

  it('per-chip calibration: the software chip and the simulator agree, and calibration helps the chip', () => {
    const device = resolveDevice('reram-generic', { programSigma: 0.8 });
    const test = take(digits.test, 300);
    const sites = [
      { layer: 4, rank: 0 },
      { layer: 9, rank: 0 },
    ];
    const seed = 5;
    const chip = 1;
    const m = withCompensation(folded, sites);
    const cal = calibrateChip(
      m,
      take(digits.train, 800),
      { device, seed, chip, epochs: 6, batchSize: 64, lr: 0.01, trainSeed: 2, rails: calib },
      kernels,
    );
    expect(cal.rails).toHaveLength(10);
    const sw = calibratedChipAccuracy(m, test, cal, { device, seed }, kernels);
    const plan = withChipRails(planCrossbars(m, resolveCircuit({}), calib.x, calib.n, kernels), cal.rails);
    const sim = runMonteCarlo(m, plan, device, [], test, { chips: 1, seed, firstChip: chip }, kernels);
    expect(sim.chips[0].accuracy).toBeCloseTo(sw, 6);
    const plainPlan = planCrossbars(folded, resolveCircuit({}), calib.x, calib.n, kernels);
    const plain = runMonteCarlo(folded, plainPlan, device, [], test, { chips: 1, seed, firstChip: chip }, kernels);
    expect(sw).toBeGreaterThan(plain.chips[0].accuracy);
  });

  it('the learned corrector trains on the graph chips, reads hidden voltages, and recovers output-array defects', () => {
    const plan = planCrossbars(folded, resolveCircuit({}), calib.x, calib.n, kernels);
    const device = resolveDevice('reram-generic', { programSigma: 0 });
    const env = makeEnv(folded, plan, device, kernels, [7]);
    // The projection's output is the addition's second input: no pass stops with it alone.
    expect(() => makeEnv(folded, plan, device, kernels, [8])).toThrow(/no node reads weighted layer 8/);
    expect(env.layout.groups.map((g) => g.name)).toEqual(['hidden7', 'output']);
    const pop = resolvePopulation({});
    const probes = makeProbes(env, digits.train, 7, { statsImages: 50, calibImages: 20, ridge: 0.1 });
    const set = generateVoltageSet(env, pop, probes, digits.train, { seed: 7, firstChip: 0, chips: 24, imagesPerChip: 80 });
    const trained = trainCorrector(
      set,
      { hidden: [32], norm: 'calib', calibImages: 20 },
      { epochs: 4, batchSize: 64, lr: 0.003, seed: 3, valFraction: 0 },
      kernels,
    );
    const heldOut = evaluateChips(env, pop, probes, digits.test, { seed: 7, firstChip: 24, chips: 6 }, [
      (f, n, c) => correctChip(trained.corrector, f, n, c, kernels),
    ]);
    const before = mean(heldOut.map((h) => h.uncorrected));
    const after = mean(heldOut.map((h) => h.corrected[0] as number));
    expect(before).toBeLessThan(evaluate(folded, digits.test, kernels).accuracy);
    expect(after).toBeGreaterThan(before);
  });
});
