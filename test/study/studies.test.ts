import { describe, expect, it } from 'vitest';
// The studies through the library entry, as a program (or the browser) calls them: no CLI, no files.
import {
  buildModel,
  type CorrectEvalOptions,
  type CorrectTrainOptions,
  correctorSetup,
  evalCorrectorStudy,
  getPreset,
  loadDataset,
  loadKernels,
  makeProbes,
  resolveCircuit,
  resolveDevice,
  resolvePopulation,
  silentProgress,
  type TrainOptions,
  trainConfig,
  trainCorrectorStudy,
  trainStudy,
} from '../../src/index.js';

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
});
