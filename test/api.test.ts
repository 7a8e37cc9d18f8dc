import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
// The README's library example, through the package entry points.
import * as browser from '../src/browser.js';
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
    const { files, external } = importGraph(resolve(import.meta.dirname, '../src/browser.ts'), false);
    expect(files.size).toBeGreaterThan(20);
    const node = external.filter((e) => / (node:|fs$|path$|os$|child_process$)/.test(e));
    expect(node).toEqual([]);
  });
});

describe('Monte Carlo worker', () => {
  it('loads no zod: worker start-up stays short (validation happens in the parent)', () => {
    const { files, external } = importGraph(resolve(import.meta.dirname, '../src/crossbar/mc-worker.ts'), true);
    expect(files.size).toBeGreaterThan(10);
    expect(external.filter((e) => !/ node:/.test(e))).toEqual([]);
  });
});
