import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// The studies through the library entry, as a program calls them: no CLI. The corrector's are
// pure (data in, results out, as the browser calls them); CorrectNet's pipeline writes a run folder.
import {
  buildModel,
  type CorrectEvalOptions,
  type CorrectnetOptions,
  type CorrectTrainOptions,
  correctnetTable,
  correctorSetup,
  evalCorrectorStudy,
  getPreset,
  loadDataset,
  loadKernels,
  makeProbes,
  REINFORCE_DEFAULTS,
  resolveCircuit,
  resolveDevice,
  resolvePopulation,
  runCorrectnet,
  silentProgress,
  type TrainOptions,
  trainConfig,
  trainCorrectorStudy,
  trainStudy,
} from '../../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'xbar-studies-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('studies through the API', () => {
  it('trains a network and a learned corrector, which recovers held-out chips; a second study of the same chips agrees', () => {
    const kernels = loadKernels();
    const data = loadDataset('digits8', { limitTrain: 3000, limitTest: 300 });
    const preset = getPreset('mlp-paper');
    const opts: TrainOptions = { model: 'mlp-paper', seed: 1, valFraction: 0, epochs: 4 };
    const model = buildModel(preset.spec, opts.seed);
    const trained = trainStudy(model, data, trainConfig(opts, preset), opts, kernels, silentProgress).result;
    expect(trained.testAccuracy).toBeGreaterThan(0.6);

    const device = resolveDevice('reram-generic', { programSigma: 0 });
    const setup = correctorSetup(model, 'in memory', data, device, resolveCircuit({}), [], kernels);
    expect(setup.software).toBe(trained.testAccuracy);
    const pop = resolvePopulation({});
    const o: CorrectTrainOptions = {
      model: 'mlp-paper (in memory)',
      device: 'reram-generic',
      seed: 1,
      trainChips: 60,
      imagesPerChip: 200,
      evalChips: 8,
      normImages: 200,
      calibImages: 20,
      ridge: 0.1,
      epochs: 8,
      batchSize: 128,
      lr: 0.003,
      hidden: 'linear',
      norm: 'calib',
      valFraction: 0,
    };
    const r = trainCorrectorStudy(o, setup, pop, kernels);
    expect(r.result).toMatchObject({ format: 'xbar-corrector', kind: 'train', trainChips: 60, seed: 1 });
    expect(r.name).toBe('linear/calib-20');
    const held = r.summary;
    expect(held?.heldOutChips).toBe(8);
    // Chips of one spatial defect each lose accuracy; the calibrated corrector gets most of it back.
    expect(held?.uncorrected.mean).toBeLessThan(setup.software - 0.1);
    expect(held?.corrected.mean).toBeGreaterThan((held?.uncorrected.mean ?? 1) + 0.1);

    // The eval study of the saved corrector on the same chips gives the same answers, chip for chip.
    const probes = makeProbes(setup.env, data.train, o.seed, { statsImages: o.normImages, calibImages: o.calibImages, ridge: o.ridge });
    const e: CorrectEvalOptions = { corrector: '(in memory)', chips: 8 };
    const ev = evalCorrectorStudy(e, r.corrector, setup, pop, probes, { modelDir: o.model, seed: 1, firstChip: 60 }, kernels);
    expect(ev.result.chips.map((c) => c.corrected[0])).toEqual(r.result.heldOut?.chips.map((c) => c.corrected[0]));
    expect(ev.summary.corrected.mean).toBe(held?.corrected.mean);
  });
  it('runs a small CorrectNet pipeline into a run folder, and a second call resumes it to the same table', async () => {
    const kernels = loadKernels({ prefer: 'js' });
    const o: CorrectnetOptions = {
      model: 'mlp-paper',
      out: join(work, 'correctnet'),
      limitTrain: 1500,
      limitTest: 200,
      sigmas: '0,0.6',
      chips: 2,
      seed: 1,
      device: 'reram-generic',
      targetSigma: '0.6',
      plainEpochs: 3,
      finetuneEpochs: 1,
      lipschitz: 'spectral',
      lambda: 0.01,
      lipschitzBound: 1,
      noiseRamp: 0.5,
      budget: 0.5,
      ranks: '1',
      compKernel: 1,
      compEpochs: 1,
      compLr: 0.003,
      search: 'rl,greedy',
      maxExhaustive: 100,
      episodes: 8,
      rlBatch: REINFORCE_DEFAULTS.batch,
      rlLr: REINFORCE_DEFAULTS.lr,
      searchTrain: 200,
      searchEpochs: 1,
      searchChips: 1,
      valImages: 100,
      overheadWeight: 0.1,
      workers: 1,
      calibrateEpochs: 20,
      calibrateLr: 0.003,
      calibrateBases: 'plain,lipschitz',
      calibrateLoss: 'ce',
    };
    const r = await runCorrectnet(o, kernels, silentProgress);
    expect(r.methods.map((m) => m.method)).toEqual(['plain', 'noise', 'lipschitz', 'lipschitz+comp', 'noise+comp']);
    for (const m of r.methods) expect(m.sweep.map((p) => p.summary.n)).toEqual([2, 2]);
    const table = correctnetTable(r);
    expect(table).toMatch(/\| sigma \| plain \| noise \| lipschitz \| lipschitz\+comp \| noise\+comp \|/);
    const file = JSON.parse(readFileSync(join(o.out, 'results.json'), 'utf8'));
    expect(file).toMatchObject({ format: 'xbar-correctnet', version: 1 });
    expect(existsSync(join(o.out, 'table.md'))).toBe(true);
    const again = await runCorrectnet(o, kernels, silentProgress);
    expect(correctnetTable(again)).toBe(table);
  });
});
