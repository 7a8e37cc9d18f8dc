import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { loadDataset } from '../../src/data/node.js';
import { resolveDevice } from '../../src/device/config.js';
import { checkLayout, correctChip, networkCost, trainCorrector } from '../../src/mitigation/corrector/corrector.js';
import {
  applyChipNorm,
  evaluateChips,
  generateVoltageSet,
  makeEnv,
  makeProbes,
  type VoltageSet,
} from '../../src/mitigation/corrector/data.js';
import { loadCorrector, saveCorrector } from '../../src/mitigation/corrector/io-node.js';
import { drawDefect, populationFromFlags, resolvePopulation } from '../../src/mitigation/population.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { evaluate, train } from '../../src/nn/train.js';

const kernels = loadKernels({ threads: 1 });
const digits = loadDataset('digits8', { limitTrain: 3000, limitTest: 400 });
const model = buildModel(presets['mlp-paper'].spec, 1);
train(model, digits.train, null, { epochs: 8, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'cosine', seed: 2 }, kernels);
const software = evaluate(model, digits.test, kernels).accuracy;
const plan = planCrossbars(model, resolveCircuit({}), digits.train.x, 500, kernels);
const device = resolveDevice('reram-generic', { programSigma: 0 });
const env = makeEnv(model, plan, device, kernels);
const pop = resolvePopulation({}); // six patterns, three kinds, on the output array
const probes = makeProbes(env, digits.train, 7, { statsImages: 100, calibImages: 20, ridge: 0.1 });
const gen = (firstChip: number, chips: number, imagesPerChip = 100, seed = 7) =>
  generateVoltageSet(env, pop, probes, digits.train, { seed, firstChip, chips, imagesPerChip });
const training = { epochs: 4, batchSize: 64, lr: 0.003, seed: 3, valFraction: 0 };
const work = mkdtempSync(join(tmpdir(), 'xbar-corrector-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('learned output corrector', () => {
  const set = gen(0, 40, 150);
  const trained = trainCorrector(set, { hidden: [32], norm: 'calib', calibImages: 20 }, training, kernels);
  const heldOut = evaluateChips(env, pop, probes, digits.test, { seed: 7, firstChip: 40, chips: 12 }, [
    (f, n, chip) => correctChip(trained.corrector, f, n, chip, kernels),
  ]);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;

  it('recovers most of the accuracy that defects cost, on chips it never saw', () => {
    const before = mean(heldOut.map((h) => h.uncorrected));
    const after = mean(heldOut.map((h) => h.corrected[0] as number));
    expect(before).toBeLessThan(software - 0.15);
    expect(after).toBeGreaterThan(before + 0.15);
    expect(after).toBeGreaterThan(0.85 * software);
    // costs are those of the corrector network: 10-32-10
    expect(networkCost(trained.corrector.model)).toEqual({ parameters: 10 * 32 + 32 + 32 * 10 + 10, macs: 10 * 32 + 32 * 10 });
  });

  it('tags every sample with its chip and defect type', () => {
    expect(set.n).toBe(40 * 150);
    expect(set.chips.map((c) => c.chip)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(new Set(set.chips.map((c) => c.type)).size).toBeGreaterThan(3);
    for (const c of set.chips) {
      expect(set.chipOf[c.start]).toBe(set.chips.indexOf(c));
      expect(c.faults).toContain(`${c.type}:`);
      expect(c.layers).toEqual([3]);
    }
  });

  it('saves and loads a corrector that answers the same', () => {
    const dir = join(work, 'c');
    saveCorrector(dir, trained.corrector, { note: 'test' });
    const { corrector, file } = loadCorrector(dir);
    expect(file.format).toBe('xbar-corrector');
    const again = evaluateChips(env, pop, probes, digits.test, { seed: 7, firstChip: 40, chips: 3 }, [
      (f, n, chip) => correctChip(corrector, f, n, chip, kernels),
    ]);
    expect(again).toEqual(heldOut.slice(0, 3));
  });
});

describe('voltage data', () => {
  it('is deterministic: a chip gives the same samples whatever range or chunk it is generated in', () => {
    const a = gen(0, 6);
    const b = gen(0, 6);
    expect(b.x).toEqual(a.x);
    expect(b.y).toEqual(a.y);
    const tail = gen(3, 3);
    expect(tail.x).toEqual(a.x.subarray(3 * 100 * 10));
    expect(tail.chips.map((c) => c.faults)).toEqual(a.chips.slice(3).map((c) => c.faults));
    expect(gen(0, 6, 100, 8).x).not.toEqual(a.x);
    const e1 = evaluateChips(env, pop, probes, digits.test, { seed: 7, firstChip: 10, chips: 5, chipsPerChunk: 2 }, []);
    const e2 = evaluateChips(env, pop, probes, digits.test, { seed: 7, firstChip: 10, chips: 5, chipsPerChunk: 16 }, []);
    expect(e2).toEqual(e1);
    expect(drawDefect(pop, 4, 7, 12)).toEqual(drawDefect(pop, 4, 7, 12));
  });

  it('calibrates a fault-free chip to (nearly) the identity', () => {
    const clean = resolvePopulation({ density: { 'stuck-on': [0, 0], 'stuck-off': [0, 0], 'stuck-at': [0, 0] } });
    const s = generateVoltageSet(env, clean, probes, digits.train, { seed: 7, firstChip: 0, chips: 1, imagesPerChip: 50 });
    const x = s.x;
    const y = applyChipNorm('calib', s.layout, s.chips[0].transforms, x, 50);
    let err = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      err = Math.max(err, Math.abs(y[i] - x[i]));
      scale = Math.max(scale, Math.abs(x[i]));
    }
    expect(err).toBeLessThan(1e-3 * scale);
    expect(s.chips[0].uncorrected).toBeGreaterThan(0.7);
  });
});

describe('errors a user can act on', () => {
  it('refuses an empty or mismatched training set with one clear line', () => {
    const empty = gen(0, 0);
    expect(() => trainCorrector(empty, { hidden: [8], norm: 'none', calibImages: 0 }, training, kernels)).toThrow(/training set is empty/);
    const small = gen(0, 2, 20);
    expect(() => trainCorrector(small, { hidden: [8], norm: 'none', calibImages: 0 }, training, kernels, [])).toThrow(XbarError);
    const badLabels: VoltageSet = { ...small, classes: 3 };
    expect(() => trainCorrector(badLabels, { hidden: [8], norm: 'none', calibImages: 0 }, training, kernels)).toThrow(
      /class \d+, but the corrector has 3 outputs/,
    );
    const truncated: VoltageSet = { ...small, x: small.x.subarray(0, 100) };
    expect(() => trainCorrector(truncated, { hidden: [8], norm: 'none', calibImages: 0 }, training, kernels)).toThrow(/inconsistent/);
    expect(() => trainCorrector(small, { hidden: [8], norm: 'calib', calibImages: 0 }, training, kernels)).toThrow(/calib-images/);
    const t = trainCorrector(small, { hidden: [8], norm: 'none', calibImages: 0 }, training, kernels);
    const wide = makeEnv(model, plan, device, kernels, [2]);
    expect(() => checkLayout(t.corrector.layout, wide.layout, 'eval')).toThrow(/reads output:10 but the chips give hidden2:8,output:10/);
    expect(() => correctChip(t.corrector, new Float32Array(7), 1, small.chips[0].transforms, kernels)).toThrow(/reads 10 voltages/);
  });

  it('checks the defect population', () => {
    expect(() => populationFromFlags({}, { patterns: 'circle,triangle' })).toThrow(/patterns/);
    expect(() => populationFromFlags({}, { kinds: 'stuck-sideways' })).toThrow(/not a kind/);
    expect(() => populationFromFlags({}, { density: 'stuck-on=0.5-0.2' })).toThrow(/lo <= hi/);
    expect(() => populationFromFlags({}, { kinds: 'stuck-on=0' })).toThrow(/every kind has weight 0/);
    expect(() => drawDefect(populationFromFlags({}, { layers: '1;5' }), 4, 1, 0)).toThrow(/layer 5.*0\.\.3/);
    const p = populationFromFlags({}, { patterns: 'ring', kinds: 'stuck-off', layers: '0,2', density: 'stuck-off=0.5' });
    const d = drawDefect(p, 4, 1, 3);
    expect([d.type, d.kind, d.layers, d.density]).toEqual(['ring', 'stuck-off', [0, 2], 0.5]);
  });
});
