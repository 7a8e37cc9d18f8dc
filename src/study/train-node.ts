import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { checkFits } from '../core/memory.js';
import { availableMemory } from '../core/memory-node.js';
import type { Progress } from '../core/progress.js';
import { loadDataset } from '../data/node.js';
import { saveModel } from '../nn/io-node.js';
import { trainingMemory } from '../nn/memory.js';
import { buildModel, type Model } from '../nn/model.js';
import { openModel } from '../onnx/open-node.js';
import { VERSION } from '../version.js';
import { checkCompatible } from './inputs.js';
import { resolveModel } from './inputs-node.js';
import { inRunFolderSync } from './run-folder.js';
import { type TrainOptions, type TrainResult, trainConfig, trainStudy } from './train.js';

/**
 * Trains and, with --out, saves the model as a run folder: --out is checked before the first epoch,
 * and the model replaces the folder whole at the end (src/study/run-folder.ts).
 */
export function runTrain(opts: TrainOptions, kernels: Kernels, progress: Progress): TrainResult {
  const inputs = [opts.init, opts.dataDir, opts.model];
  return inRunFolderSync({ out: opts.out, command: 'train', key: opts, inputs }, (run) => trainInto(opts, run?.dir, kernels, progress));
}

/** Trains, and saves the model into `dir` (written file by file: the caller's run folder keeps it whole). */
export function trainInto(opts: TrainOptions, dir: string | undefined, kernels: Kernels, progress: Progress): TrainResult {
  const { spec, preset } = resolveModel(opts.model);
  const datasetName = opts.dataset ?? preset?.dataset;
  if (!datasetName) throw new XbarError(`--dataset is required with a model spec file (no preset default)`);
  const config = trainConfig(opts, preset);
  // Before the dataset and the model are allocated: a spec that cannot fit is one line, not GBs.
  const need = trainingMemory(spec, config.batchSize, (opts.limitTrain ?? 60_000) + (opts.limitTest ?? 10_000));
  if (need) checkFits(need, availableMemory(), `training '${opts.model}'`, 'use a smaller model, a smaller --batch-size, or --limit-train');
  const ds = loadDataset(datasetName, { dataDir: opts.dataDir, limitTrain: opts.limitTrain, limitTest: opts.limitTest });
  checkCompatible(spec, ds, `model '${opts.model}'`);
  const model = buildModel(spec, opts.seed);
  if (opts.init) copyWeightsFrom(model, opts.init);
  const { result, trainSamples, lipschitz, noise } = trainStudy(model, ds, config, opts, kernels, progress);
  const { history, testAccuracy, testLoss, seconds } = result;
  if (dir) {
    saveModel(dir, model, {
      xbarVersion: VERSION,
      createdAt: new Date().toISOString(),
      model: opts.model,
      dataset: ds.name,
      dataDir: opts.dataDir ?? null,
      inputShape: spec.inputShape,
      numClasses: ds.numClasses,
      classNames: ds.classNames,
      seed: opts.seed,
      valFraction: opts.valFraction,
      trainSamples,
      training: config,
      init: opts.init ?? null,
      lipschitz,
      noiseInjection: noise,
      kernels: kernels.name,
      history,
      testAccuracy,
      testLoss,
      testSamples: ds.test.n,
      trainSeconds: seconds,
    });
  }
  return result;
}

/** Copies a saved model's weights into `model`; the architectures must match parameter for parameter. */
export function copyWeightsFrom(model: Model, dir: string): void {
  const { model: src } = openModel(dir);
  const byName = new Map(src.params.map((p) => [p.name, p]));
  for (const p of model.params) {
    const q = byName.get(p.name);
    if (!q || q.value.length !== p.value.length)
      throw new XbarError(
        `--init ${dir}: its weights do not fit this architecture (parameter ${p.name}): start from a model of the same spec`,
      );
    p.value.set(q.value);
  }
}
