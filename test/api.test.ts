import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
// The README's library example, through the package entry points.
import * as browser from '../src/browser.js';
import { XbarError } from '../src/core/errors.js';
import {
  buildModel,
  evaluate,
  getPreset,
  loadDataset,
  loadKernels,
  parseFaultSpec,
  planCrossbars,
  resolveCircuit,
  resolveDevice,
  runMonteCarlo,
  train,
} from '../src/index.js';

describe('library API (README example)', () => {
  it('trains, maps and simulates chips through the public entry', () => {
    const kernels = loadKernels();
    const data = loadDataset('digits8', { limitTrain: 3000, limitTest: 1000 });
    const preset = getPreset('mlp-paper');
    const model = buildModel(preset.spec, 1);
    train(model, data.train, null, { ...preset.training, epochs: 5, seed: 2 }, kernels);
    const software = evaluate(model, data.test, kernels).accuracy;
    expect(software).toBeGreaterThan(0.6);
    const plan = planCrossbars(model, resolveCircuit({ arrayRows: 64, arrayCols: 64 }), data.train.x, 1000, kernels);
    const device = resolveDevice('reram-liu2017', { programSigma: 0.05 });
    const faults = parseFaultSpec('column-gradient:min=0,density=0.04,kind=stuck-off');
    const mc = runMonteCarlo(model, plan, device, faults, data.test, { chips: 10, seed: 7 }, kernels);
    expect(mc.summary.n).toBe(10);
    expect(mc.summary.mean).toBeLessThanOrEqual(software + 0.02);
  });

  it('the browser entry has the simulator and no Node-only exports', () => {
    for (const name of ['runMonteCarlo', 'planCrossbars', 'parseFaultSpec', 'faultMapsToSVG', 'jsKernels', 'buildModel', 'costOfModel'])
      expect(name in browser).toBe(true);
    for (const name of ['loadKernels', 'loadDataset', 'saveModel', 'loadFaultSpec']) expect(name in browser).toBe(false);
  });
});

describe('mitigation API (CorrectNet)', () => {
  it('exports the Lipschitz regulariser, noise injection, compensation, placement, calibration and the pipeline', async () => {
    const api = await import('../src/index.js');
    for (const name of [
      'spectralNorm',
      'orthogonalPenalty',
      'spectralPenalty',
      'LipschitzRegularizer',
      'layerSpectralNorms',
      'perturbLayer',
      'WeightNoise',
      'Rails',
      'composeStepHooks',
      'withCompensation',
      'withoutCompensation',
      'trainCompensation',
      'compensationCost',
      'baseNetworkCost',
      'sitesOf',
      'reinforcePlacement',
      'exhaustiveSearch',
      'greedyPlacement',
      'Evaluator',
      'compensationPlacementProblem',
      'softwareChipAccuracy',
      'layerSensitivity',
      'errorAmplification',
      'calibrateChip',
      'calibrationSites',
      'withChipRails',
      'calibratedChipAccuracy',
      'runCorrectnet',
      'correctnetTable',
      'makeProgress',
    ])
      expect(typeof (api as Record<string, unknown>)[name], name).toBe('function');
    // The corrector's networkCost keeps its name; the compensation one is baseNetworkCost.
    const model = api.buildModel(api.getPreset('mlp').spec, 1);
    expect(api.baseNetworkCost(model).params).toBe(242762);
    const comp = api.withCompensation(model, [{ layer: 2, rank: 16 }]);
    expect(api.compensationCost(comp).params).toBe(2256);
    expect(api.spectralNorm(new Float32Array([3, 0, 0, 4]), 2, 2, 50).sigma).toBeCloseTo(4, 4);
  });
});

/**
 * The modules `entry` loads (relative imports followed, `import type` / `export type` left out when
 * `typesErased`) and the non-relative specifiers they import.
 */
function importGraph(entry: string, typesErased: boolean): { files: Set<string>; external: string[] } {
  const files = new Set<string>();
  const external: string[] = [];
  const pattern = typesErased ? /^(?:import|export)(?! type )[^'"]*from '([^']+)'/gm : /^(?:import|export)[^'"]*from '([^']+)'/gm;
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(pattern)) {
      const spec = m[1];
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else external.push(`${file}: ${spec}`);
    }
  };
  visit(entry);
  return { files, external };
}

describe('browser entry', () => {
  it('imports nothing from Node, directly or through its modules', () => {
    // Types are erased when the page is built, so a type from a Node-side module may be named.
    const { files, external } = importGraph(resolve(import.meta.dirname, '../src/browser.ts'), true);
    expect(files.size).toBeGreaterThan(50);
    const node = external.filter((e) => / (node:|fs$|path$|os$|child_process$)/.test(e));
    expect(node).toEqual([]);
    // Pure studies take data in and give results out: the file handling beside each is a *-node.ts module.
    expect([...files].filter((f) => /(-node|\/node)\.ts$/.test(f))).toEqual([]);
  });
});

describe('Monte Carlo worker', () => {
  it('loads no zod: worker start-up stays short (validation happens in the parent)', () => {
    const { files, external } = importGraph(resolve(import.meta.dirname, '../src/crossbar/mc-worker.ts'), true);
    expect(files.size).toBeGreaterThan(10);
    expect(external.filter((e) => !/ node:/.test(e))).toEqual([]);
  });
});

describe('library API: bad arguments are XbarErrors naming them, not NaN or TypeErrors', () => {
  const kernels = loadKernels();
  const data = loadDataset('digits8', { limitTrain: 200, limitTest: 50 });
  const preset = getPreset('mlp-paper');
  const model = buildModel(preset.spec, 1);
  const plan = planCrossbars(model, resolveCircuit({}), data.train.x, 100, kernels);
  const device = resolveDevice('ideal');
  const oneLine = (f: () => unknown, re: RegExp) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(XbarError);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).not.toContain('\n');
  };
  const badLabels = { ...data.test, y: data.test.y.map((v, i) => (i === 3 ? 12 : v)) };

  it('evaluate refuses out-of-range labels and short buffers', () => {
    oneLine(() => evaluate(model, badLabels, kernels), /label 12 of image 3 is not a class of a model with 10 outputs/);
    oneLine(() => evaluate(model, { ...data.test, x: data.test.x.subarray(64) }, kernels), /x holds \d+ floats/);
    oneLine(() => evaluate(model, { ...data.test, n: -1 }, kernels), /n must be a whole number/);
  });

  it('train refuses epochs -1, a zero batch, labels out of range and an empty training set', () => {
    const cfg = { ...preset.training, epochs: 1, seed: 1 };
    oneLine(() => train(model, data.train, null, { ...cfg, epochs: -1 }, kernels), /epochs must be a whole number >= 0, not -1/);
    oneLine(() => train(model, data.train, null, { ...cfg, batchSize: 0 }, kernels), /batchSize/);
    oneLine(() => train(model, { ...data.train, y: data.train.y.map(() => 10) }, null, cfg, kernels), /label 10/);
    oneLine(() => train(model, { ...data.train, n: 0 }, null, cfg, kernels), /training data.n must be a whole number >= 1/);
  });

  it('runMonteCarlo refuses chips -1, a bad first chip, a non-array spec and bad labels', () => {
    const run = (cfg: object, test = data.test, faults: unknown = []) =>
      runMonteCarlo(model, plan, device, faults as never, test, { chips: 2, seed: 1, ...cfg }, kernels);
    oneLine(() => run({ chips: -1 }), /chips must be a whole number >= 1, not -1/);
    oneLine(() => run({ chips: 0 }), /chips must be/);
    oneLine(() => run({ firstChip: 1.5 }), /firstChip/);
    oneLine(() => run({}, data.test, 'random:sa1=0.1'), /faults must be a fault spec/);
    oneLine(() => run({}, badLabels), /label 12/);
  });

  it('parseFaultSpec refuses a non-string spec', () => {
    oneLine(() => parseFaultSpec(42 as unknown as string), /fault spec is text/);
    oneLine(() => parseFaultSpec(undefined as unknown as string), /not undefined/);
  });
});
