import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checksum, makePart, PART_FILE, studyConfig as runConfig } from '../cluster/part.js';
import type { PartIn } from '../cluster/parts-node.js';
import { itemBlock, type Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import type { Kernels } from '../core/kernels.js';
import { loadKernels } from '../core/kernels-node.js';
import { checkFits, type MemoryPart } from '../core/memory.js';
import { availableMemory } from '../core/memory-node.js';
import type { Progress } from '../core/progress.js';
import { checkFaultMaps } from '../crossbar/chip.js';
import { type Circuit, resolveCircuit } from '../crossbar/circuit.js';
import { loadDataset } from '../data/node.js';
import { type DeviceInput, resolveDevice } from '../device/config.js';
import { loadFaultSpec } from '../faults/node.js';
import type { HeldOutChip } from '../mitigation/corrector/data.js';
import { makeProbes, type ProbeConfig, type Probes } from '../mitigation/corrector/data.js';
import { correctEvalMeta, loadCorrector, saveCorrector } from '../mitigation/corrector/io-node.js';
import { joinVoltageBlocks, packVoltageBlock, voltageBlockSchema } from '../mitigation/corrector/voltage-block.js';
import { type Population, type PopulationInput, populationFromFlags } from '../mitigation/population.js';
import { foldBatchNorm } from '../nn/fold.js';
import { loadMappedModel } from '../nn/io-node.js';
import { chipMemory } from '../nn/memory.js';
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
  type HeldOutSummary,
  hwOptions,
  parseHiddenVoltages,
  parseWidths,
  resultHeader,
  studyConfig,
  summarizeHeldOut,
  trainCorrectorStudy,
  trainingProbes,
  trainingSet,
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
  /** Voltage samples the command keeps (training chips x images per chip), for the memory check. */
  samples = 0,
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
  const s = correctorSetup(model, file.weightsSha256, dataset, device, circuit, hidden, kernels);
  // Before the first chip: a chip and a batch, and the voltage samples kept for training.
  const kept: MemoryPart[] = samples
    ? [{ what: `${samples.toLocaleString('en-US')} voltage samples`, bytes: 2 * 4 * samples * (s.env.layout.size + 1) }]
    : [];
  const need = chipMemory(model.spec, { workers: 1, images: dataset.test.n, extra: kept });
  if (need) checkFits(need, availableMemory(), `simulating ${o.model}'s chips`, 'use fewer chips or images per chip, or a smaller model');
  return s;
}

/** The voltages of a correct train shard's chips, beside its part.json. */
const VOLTAGES = 'voltages.bin';

/**
 * A correct train run in the run folder --out (checked before any work, replaced whole at the
 * end): `work` gets the staging folder, the setup, population and probe images.
 */
function inTrainRun<T>(
  o: CorrectTrainOptions,
  kernels: Kernels,
  /** Training chips whose voltages the run keeps (for the memory check). */
  chips: number,
  work: (dir: string, s: CorrectorSetup, pop: Population, probes: Probes) => T,
): T {
  if (!o.out) throw new XbarError('--out is required: the folder to save the corrector in');
  const inputs = [o.model, o.population, o.dataDir];
  return inRunFolderSync({ out: o.out, command: 'correct train', key: o, inputs }, (run) => {
    parseWidths(o.hidden, '--hidden');
    checkProbeCounts([o.norm], o);
    const pop = populationFromFlags(readPopulationFile(o.population), o);
    const s = setup(o, pop, kernels, chips * o.imagesPerChip);
    return work((run as RunFolder).dir, s, pop, trainingProbes(o, s));
  });
}

/** Trains a corrector into the run folder --out: corrector.json, the network, results.json. */
export function runCorrectTrain(o: CorrectTrainOptions, kernels: Kernels, progress: Progress) {
  return inTrainRun(o, kernels, o.trainChips, (dir, s, pop, probes) => {
    // The command the files record: the options that change a result, and --out (as a merge records it).
    const r = trainCorrectorStudy(o, s, pop, kernels, progress, { probes, command: { ...runConfig(o), out: o.out } });
    saveCorrector(dir, r.corrector, r.meta);
    writeFileAtomic(join(dir, 'results.json'), `${JSON.stringify(r.result, null, 2)}\n`);
    return r;
  });
}

/**
 * `correct train --shard K/N`: only the voltages of its block of the training chips, written as a
 * part (part.json and voltages.bin) into --out, for xbar merge to train on.
 */
export function runCorrectTrainShard(o: CorrectTrainOptions & { shard: Shard }, kernels: Kernels, progress: Progress) {
  const block = itemBlock(o.trainChips, o.shard);
  return inTrainRun(o, kernels, block.count, (dir, s, pop, probes) => {
    const { block: data, bytes } = packVoltageBlock(trainingSet(o, s, pop, probes, progress, block));
    writeFileAtomic(join(dir, VOLTAGES), bytes);
    const header = {
      command: 'correct train',
      config: runConfig(o),
      inputs: trainInputs(s),
      seed: o.seed,
      shard: o.shard,
      items: { ...block, total: o.trainChips },
    };
    writeFileAtomic(join(dir, PART_FILE), `${JSON.stringify(makePart(header, data))}\n`);
    return { shard: o.shard, block, samples: block.count * o.imagesPerChip };
  });
}

/** What a correct train shard read: the model's weights and the images its chips saw. */
const trainInputs = (s: CorrectorSetup) => ({
  model: s.modelSha,
  data: checksum(s.dataset.train.x, s.dataset.train.y, s.dataset.test.x, s.dataset.test.y),
});

/**
 * xbar merge of correct train's parts (checked by loadParts: shards 1..N of one run): their chips'
 * voltages put together in chip order (joinVoltageBlocks: bit for bit the set one process
 * generates), then the same training, held-out test and files as the unsharded run.
 */
export function mergeCorrectTrainParts(parts: PartIn[], out: string, progress: Progress) {
  const config = parts[0].part.config;
  const o = { ...config, out } as unknown as CorrectTrainOptions;
  const kernels = loadKernels({ prefer: config.kernels as 'native' | 'js' | undefined });
  const pop = populationFromFlags(readPopulationFile(o.population), o);
  const s = setup(o, pop, kernels, o.trainChips * o.imagesPerChip);
  const here = trainInputs(s);
  for (const [k, sum] of Object.entries(here))
    if (parts[0].part.inputs[k] !== sum)
      throw new XbarError(
        `${parts[0].dir} was made from another ${k} than ${k === 'model' ? o.model : 'the data'} holds now: run the shards again`,
      );
  const probes = trainingProbes(o, s);
  const blocks = parts.map(({ dir, part }) => {
    const r = voltageBlockSchema.safeParse(part.data);
    if (!r.success) throw new XbarError(`${dir}: part.json's correct train data is damaged: run the shard again`);
    return { where: dir, block: r.data, bytes: new Uint8Array(readFileSync(join(dir, VOLTAGES))) };
  });
  const set = joinVoltageBlocks(blocks, s.env.layout, s.env.classes, probes);
  set.chips.forEach((c, i) => {
    if (c.chip !== i) throw new XbarError(`the parts hold chip ${c.chip} where training chip ${i} belongs: run the shards again`);
  });
  const key = { merge: config, inputs: parts[0].part.inputs };
  return inRunFolderSync({ out, command: 'correct train', key, inputs: parts.map((p) => p.dir) }, (run) => {
    const dir = (run as RunFolder).dir;
    const r = trainCorrectorStudy(o, s, pop, kernels, progress, { probes, set, command: { ...config, out } });
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
    const meta = correctEvalMeta(file, o.corrector);
    const modelDir = o.model ?? meta.model;
    const seed = o.seed ?? meta.seed;
    const firstChip = o.firstChip ?? (seed === meta.seed ? meta.trainChips : 0);
    if (seed === meta.seed && firstChip < meta.trainChips)
      throw new XbarError(
        `--first-chip ${firstChip} overlaps the training chips 0..${meta.trainChips - 1} of seed ${seed}: use --first-chip ${meta.trainChips} or more, or another --seed`,
      );
    const pop = populationFromFlags(meta.population as PopulationInput, o);
    const { model, file: mf } = loadMappedModel(modelDir);
    if (mf.weightsSha256 !== meta.modelSha256)
      throw new XbarError(
        `${modelDir} is not the model the corrector was trained for (weights differ): pass --model ${meta.model} or retrain the corrector`,
      );
    const dataset = loadDataset(o.dataset ?? meta.dataset, { dataDir: o.dataDir, limitTest: o.limitTest });
    checkCompatible(model.spec, dataset, `model ${modelDir}`);
    const need = chipMemory(model.spec, { workers: 1, images: dataset.test.n });
    if (need) checkFits(need, availableMemory(), `simulating ${modelDir}'s chips`, 'use a smaller model or --limit-test');
    const where = `${o.corrector}/corrector.json`;
    const circuit = resolveCircuit(meta.circuit, `meta.circuit in ${where}`);
    const device = resolveDevice(meta.device as DeviceInput, {}, `meta.device in ${where}`);
    const s = correctorSetup(model, mf.weightsSha256, dataset, device, circuit, meta.hiddenVoltages, kernels);
    const faults = o.faults ? loadFaultSpec(o.faults) : undefined;
    if (faults) checkFaultMaps(s.env.plan, faults);
    const probes = makeProbes(s.env, dataset.train, meta.seed, meta.probes);
    if (o.shard && !run) throw new XbarError('--shard needs --out: a shard writes its part of the results there, for xbar merge');
    // A shard evaluates its block of the held-out chips; chip i is the same chip in any block.
    const block = o.shard ? itemBlock(o.chips, o.shard) : { first: 0, count: o.chips };
    const command = { ...runConfig(o), out: o.out };
    const at = { modelDir, seed, firstChip, block, faults, command };
    const r = evalCorrectorStudy(o, corrector, s, pop, probes, at, kernels, progress);
    if (run && o.shard) {
      const inputs = {
        model: mf.weightsSha256,
        corrector: checksum(readFileSync(join(o.corrector, 'corrector.json'))),
        data: checksum(dataset.test.x, dataset.test.y),
      };
      const header = { command: 'correct eval', config: runConfig(o), inputs, seed, shard: o.shard, items: { ...block, total: o.chips } };
      writeFileAtomic(join(run.dir, PART_FILE), `${JSON.stringify(makePart(header, { base: r.base, chips: r.rows }))}\n`);
    } else if (run) writeCorrectEval(run.dir, r.result);
    return r;
  });
}

const writeCorrectEval = (dir: string, result: object) =>
  writeFileAtomic(join(dir, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);

/**
 * xbar merge of correct eval's parts (checked by loadParts: shards 1..N of one run): the chips in
 * index order, summarised by the same summarizeHeldOut, written as the unsharded run writes them.
 */
export function mergeCorrectEvalParts(parts: PartIn[], out: string): HeldOutSummary {
  const datas = parts.map(({ dir, part }) => {
    const d = part.data as { base?: Record<string, unknown>; chips?: HeldOutChip[] };
    if (!d?.base || !Array.isArray(d.chips)) throw new XbarError(`${dir}: part.json's correct eval data is damaged: run the shard again`);
    return d as { base: Record<string, unknown> & { firstChip: number }; chips: HeldOutChip[] };
  });
  // What only says when and where the shard ran is left out of the comparison.
  const fixed = (b: Record<string, unknown>) => JSON.stringify({ ...b, createdAt: 0, command: { ...(b.command as object), out: 0 } });
  datas.forEach((d, i) => {
    if (fixed(d.base) !== fixed(datas[0].base))
      throw new XbarError(`${parts[i].dir} and ${parts[0].dir} disagree on the run's settings or cost: run those shards again`);
  });
  const rows = datas.flatMap((d) => d.chips);
  const { firstChip } = datas[0].base;
  rows.forEach((r, i) => {
    if (r.chip !== firstChip + i)
      throw new XbarError(`the parts hold chip ${r.chip} where chip ${firstChip + i} belongs: run the shards again`);
  });
  const summary = summarizeHeldOut(rows);
  const base = datas[0].base;
  const result = { ...base, ...resultHeader('eval', { ...(base.command as object), out }), ...summary, chips: rows };
  const key = { merge: parts[0].part.config, inputs: parts[0].part.inputs };
  inRunFolderSync(
    { out, command: 'correct eval', key, inputs: parts.map((p) => p.dir) },
    (run) => run && writeCorrectEval(run.dir, result),
  );
  return summary;
}

/** The corrector study; with --out, its results are a run folder. */
export function runCorrectStudy(o: CorrectStudyOptions, kernels: Kernels, progress: Progress) {
  const inputs = [o.model, o.population, o.dataDir];
  return inRunFolderSync({ out: o.out, command: 'correct study', key: o, inputs }, (run) => {
    const pop = populationFromFlags(readPopulationFile(o.population), o);
    const cfg = studyConfig(o);
    const r = correctorStudy(o, cfg, setup(o, pop, kernels, o.trainChips * o.imagesPerChip), pop, kernels, progress);
    if (run) {
      writeFileAtomic(join(run.dir, 'results.json'), `${JSON.stringify(r.result, null, 2)}\n`);
      writeFileAtomic(join(run.dir, 'report.md'), `${r.markdown}\n`);
    }
    return r;
  });
}
