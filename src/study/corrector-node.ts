import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import type { Kernels } from '../core/kernels.js';
import type { Progress } from '../core/progress.js';
import { type Circuit, resolveCircuit } from '../crossbar/circuit.js';
import { loadDataset } from '../data/node.js';
import type { Device } from '../device/config.js';
import { makeProbes, type ProbeConfig } from '../mitigation/corrector/data.js';
import { loadCorrector, saveCorrector } from '../mitigation/corrector/io-node.js';
import { type Population, type PopulationInput, populationFromFlags } from '../mitigation/population.js';
import { foldBatchNorm } from '../nn/fold.js';
import { loadMappedModel } from '../nn/io-node.js';
import { openModel } from '../onnx/open-node.js';
import {
  type CorrectEvalOptions,
  type CorrectorSetup,
  type CorrectStudyOptions,
  type CorrectTrainOptions,
  checkChipOptions,
  checkProbeCounts,
  correctorSetup,
  correctorStudy,
  evalCorrectorStudy,
  hwOptions,
  parseHiddenVoltages,
  parseWidths,
  studyConfig,
  trainCorrectorStudy,
} from './corrector.js';
import { checkCompatible, circuitFrom } from './inputs.js';
import { deviceFrom } from './inputs-node.js';
import { inRunFolderSync, type RunFolder } from './run-folder.js';

/**
 * The corrector's commands in Node (corrector.ts holds the studies): the model, data and
 * population files named by the options, the saved corrector, and each command's run folder
 * (checked before any work, replaced whole at the end).
 */

function readPopulationFile(path: string | undefined): PopulationInput {
  if (!path) return {};
  if (!existsSync(path)) throw new XbarError(`population file ${path} not found`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new XbarError(`population file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The options' model (batch norms folded: the crossbar maps it so), device, circuit and data. */
function setup(
  o: { model: string; dataset?: string; dataDir?: string; limitTest?: number; hiddenVoltages?: string } & Parameters<typeof hwOptions>[0],
  pop: Population,
  kernels: Kernels,
): CorrectorSetup {
  const hidden = parseHiddenVoltages(o.hiddenVoltages);
  const hw = hwOptions(o);
  const opened = openModel(o.model, o);
  const { file } = opened;
  const model = foldBatchNorm(opened.model);
  const name = o.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!name) throw new XbarError(`${o.model} does not record its dataset: pass --dataset`);
  checkChipOptions(model, pop, hidden);
  const device = deviceFrom(hw);
  const circuit = resolveCircuit(circuitFrom(hw));
  const dataset = loadDataset(name, { dataDir: o.dataDir, limitTest: o.limitTest });
  checkCompatible(model.spec, dataset, `model ${o.model}`);
  return correctorSetup(model, file.weightsSha256, dataset, device, circuit, hidden, kernels);
}

/** Trains a corrector into the run folder --out (checked before any work, replaced whole at the end). */
export function runCorrectTrain(o: CorrectTrainOptions, kernels: Kernels, progress: Progress) {
  if (!o.out) throw new XbarError('--out is required: the folder to save the corrector in');
  const inputs = [o.model, o.population, o.dataDir];
  return inRunFolderSync({ out: o.out, command: 'correct train', key: o, inputs }, (run) => {
    const dir = (run as RunFolder).dir;
    parseWidths(o.hidden, '--hidden');
    checkProbeCounts([o.norm], o);
    const pop = populationFromFlags(readPopulationFile(o.population), o);
    const r = trainCorrectorStudy(o, setup(o, pop, kernels), pop, kernels, progress);
    saveCorrector(dir, r.corrector, r.meta);
    writeFileAtomic(join(dir, 'results.json'), `${JSON.stringify(r.result, null, 2)}\n`);
    return r;
  });
}

/** Measures a corrector on held-out chips; with --out, the results are a run folder. */
export function runCorrectEval(o: CorrectEvalOptions, kernels: Kernels, progress: Progress) {
  const inputs = [o.corrector, o.model, o.dataDir];
  return inRunFolderSync({ out: o.out, command: 'correct eval', key: o, inputs }, (run) => {
    const { corrector, file } = loadCorrector(o.corrector);
    const meta = file.meta as Record<string, unknown> & {
      model: string;
      modelSha256: string;
      population: PopulationInput;
      probes: ProbeConfig;
      hiddenVoltages: number[];
      seed: number;
      trainChips: number;
      device: Device;
      circuit: Circuit;
      dataset: string;
    };
    const modelDir = o.model ?? meta.model;
    const seed = o.seed ?? meta.seed;
    const firstChip = o.firstChip ?? (seed === meta.seed ? meta.trainChips : 0);
    if (seed === meta.seed && firstChip < meta.trainChips)
      throw new XbarError(
        `--first-chip ${firstChip} overlaps the training chips 0..${meta.trainChips - 1} of seed ${seed}: use --first-chip ${meta.trainChips} or more, or another --seed`,
      );
    const pop = populationFromFlags(meta.population, o);
    const { model, file: mf } = loadMappedModel(modelDir);
    if (mf.weightsSha256 !== meta.modelSha256)
      throw new XbarError(
        `${modelDir} is not the model the corrector was trained for (weights differ): pass --model ${meta.model} or retrain the corrector`,
      );
    const dataset = loadDataset(o.dataset ?? meta.dataset, { dataDir: o.dataDir, limitTest: o.limitTest });
    checkCompatible(model.spec, dataset, `model ${modelDir}`);
    const circuit = resolveCircuit(meta.circuit);
    const s = correctorSetup(model, mf.weightsSha256, dataset, meta.device, circuit, meta.hiddenVoltages ?? [], kernels);
    const probes = makeProbes(s.env, dataset.train, meta.seed, meta.probes);
    const r = evalCorrectorStudy(o, corrector, s, pop, probes, { modelDir, seed, firstChip }, kernels, progress);
    if (run) writeFileAtomic(join(run.dir, 'results.json'), `${JSON.stringify(r.result, null, 2)}\n`);
    return r;
  });
}

/** The corrector study; with --out, its results are a run folder. */
export function runCorrectStudy(o: CorrectStudyOptions, kernels: Kernels, progress: Progress) {
  const inputs = [o.model, o.population, o.dataDir];
  return inRunFolderSync({ out: o.out, command: 'correct study', key: o, inputs }, (run) => {
    const pop = populationFromFlags(readPopulationFile(o.population), o);
    const cfg = studyConfig(o);
    const r = correctorStudy(o, cfg, setup(o, pop, kernels), pop, kernels, progress);
    if (run) {
      writeFileAtomic(join(run.dir, 'results.json'), `${JSON.stringify(r.result, null, 2)}\n`);
      writeFileAtomic(join(run.dir, 'report.md'), `${r.markdown}\n`);
    }
    return r;
  });
}
