import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { checksum, makePart, PART_FILE, studyConfig } from '../cluster/part.js';
import type { PartIn } from '../cluster/parts-node.js';
import { itemBlock, type Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import type { Kernels } from '../core/kernels.js';
import { hardwareText } from '../cost/format.js';
import { correctorRecoveryCost, recoveryContext } from '../cost/recovery.js';
import { defaultTech } from '../cost/tech.js';
import { checkFaultMaps } from '../crossbar/chip.js';
import { resolveCircuit } from '../crossbar/circuit.js';
import { planCrossbars } from '../crossbar/plan.js';
import { type Summary, summarize } from '../crossbar/stats.js';
import { loadDataset } from '../data/node.js';
import { devicePresetNames } from '../device/config.js';
import { type FaultSpec, formatFaultSpec } from '../faults/index.js';
import { loadFaultSpec } from '../faults/node.js';
import {
  type Corrector,
  type CorrectorTraining,
  correctChip,
  correctorName,
  networkCost,
  trainCorrector,
} from '../mitigation/corrector/corrector.js';
import {
  CHIP_NORMS,
  type ChipNorm,
  type CorrectorEnv,
  evaluateChips,
  generateVoltageSet,
  type HeldOutChip,
  makeEnv,
  makeProbes,
  type ProbeConfig,
} from '../mitigation/corrector/data.js';
import { loadCorrector, saveCorrector } from '../mitigation/corrector/io-node.js';
import { costOf, runStudy, type StudyConfig, studyMarkdown } from '../mitigation/corrector/study.js';
import {
  describePopulation,
  layerSets,
  type Population,
  type PopulationFlags,
  type PopulationInput,
  populationFromFlags,
  SPATIAL_PATTERNS,
} from '../mitigation/population.js';
import { Conv2d } from '../nn/conv.js';
import { Dense } from '../nn/dense.js';
import { foldBatchNorm } from '../nn/fold.js';
import { loadMappedModel } from '../nn/io-node.js';
import type { Model } from '../nn/model.js';
import { evaluate } from '../nn/train.js';
import { inRunFolderSync, type RunFolder } from '../study/run-folder.js';
import { VERSION } from '../version.js';
import { common, DATA_DIR_HELP, kernelsFrom, pct } from './common.js';
import { openModel } from './onnx.js';
import { choiceOption, floatOption, intOption, type MappingFlags, mappingOptions, shardOption } from './options.js';
import { makeProgress, type Progress } from './progress.js';
import { circuitFrom, deviceFrom, type SimulateOptions } from './simulate.js';
import { checkCompatible } from './train.js';

/** Options shared by the commands that make chips. */
interface ChipOptions extends PopulationFlags, MappingFlags {
  model: string;
  device: string;
  sigma?: number;
  readNoise?: number;
  levels?: number;
  arraySize?: number;
  scaling?: 'layer' | 'column';
  population?: string;
  hiddenVoltages?: string;
  seed: number;
  dataset?: string;
  dataDir?: string;
  limitTest?: number;
  out?: string;
}

interface TrainingOptions {
  trainChips: number;
  imagesPerChip: number;
  evalChips: number;
  normImages: number;
  calibImages: number;
  ridge: number;
  epochs: number;
  batchSize: number;
  lr: number;
}

interface CorrectTrainOptions extends ChipOptions, TrainingOptions {
  hidden: string;
  norm: ChipNorm;
  valFraction: number;
}

interface CorrectEvalOptions extends PopulationFlags {
  corrector: string;
  /** Any fault spec (patterns, gradients, combinations, random faults, defect-map files) instead of the population. */
  faults?: string;
  model?: string;
  chips: number;
  firstChip?: number;
  seed?: number;
  dataset?: string;
  dataDir?: string;
  limitTest?: number;
  out?: string;
  /** Evaluate only this shard of the held-out chips and write its part to --out (src/cluster/). */
  shard?: Shard;
}

interface CorrectStudyOptions extends ChipOptions, TrainingOptions {
  sizes: string;
  norms: string;
  mainSize: string;
  loo: boolean;
  calibSweep: string;
  oracleChips: number;
  oracleImages: number;
}

const chipOptions = (c: Command): Command =>
  mappingOptions(c)
    .requiredOption('-m, --model <dir>', 'folder of a saved model (xbar train --out)')
    .option('--device <preset|file>', `device preset (${devicePresetNames.join(', ')}) or a JSON device file`, 'reram-generic')
    .option('--sigma <x>', 'programming variation, log-normal sigma (default 0: defects only)', floatOption(0, 10))
    .option('--read-noise <x>', 'relative read noise per inference', floatOption(0, 10))
    .option('--levels <n>', 'programmable conductance levels, 0 = continuous', intOption(0, 1 << 20))
    .option('--array-size <n>', 'crossbar array rows and columns', intOption(2, 1 << 16))
    .addOption(new Option('--scaling <kind>', 'weight-to-conductance scaling').argParser(choiceOption(['layer', 'column'] as const)))
    .option('--population <file.json>', 'defect population as JSON (fields as the flags below; see docs/corrector.md)')
    .option('--patterns <list>', `defect types drawn per chip (default all six: ${SPATIAL_PATTERNS.join(',')})`)
    .option('--kinds <list>', 'stuck-cell kinds and weights, e.g. stuck-on=1,stuck-off=1,stuck-at=1 (default)')
    .option('--density <list>', 'density range per kind, e.g. stuck-on=0.1-0.3,stuck-off=0.4-1,stuck-at=0.3-0.8 (default)')
    .option('--level <range>', 'stuck-at level range in Gmin..Gmax (default 0.3-0.9)')
    .option('--layers <sets>', "weighted-layer sets, one drawn per chip, ';'-separated, e.g. '1;2;3;1,2,3', or last (default) or all")
    .addOption(
      new Option('--geometry <kind>', 'pattern position and size: random per chip (default) or fixed').argParser(
        choiceOption(['random', 'fixed'] as const),
      ),
    )
    .option('--hidden-voltages <layers>', 'also feed the neuron voltages of these hidden weighted layers, e.g. 2 or 1,2')
    .option('-s, --seed <n>', 'random seed; chip i of seed s is always the same chip', intOption(0, 2 ** 31 - 1), 1)
    .option('-d, --dataset <name>', 'dataset (default: the one the model was trained on)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--limit-test <n>', 'evaluate held-out chips on the first n test images', intOption(1));

const trainingOptions = (c: Command): Command =>
  c
    .option('--train-chips <n>', 'chips that give training samples (chips 0..n-1)', intOption(1, 1_000_000), 400)
    .option('--images-per-chip <n>', 'training images run on each training chip', intOption(1, 1_000_000), 500)
    .option('--eval-chips <n>', 'held-out chips to evaluate on (chips after the training ones)', intOption(0, 1_000_000), 100)
    .option('--norm-images <n>', "unlabelled images per chip for the 'stats' normalisation", intOption(0, 100_000), 200)
    .option('--calib-images <n>', "known images per chip for the 'calib' normalisation", intOption(0, 100_000), 20)
    .option('--ridge <x>', "'calib' prior towards the identity map, in images", floatOption(0, 1e6, { minExclusive: true }), 0.1)
    .option('-e, --epochs <n>', 'corrector training epochs', intOption(1, 100_000), 10)
    .option('-b, --batch-size <n>', 'corrector mini-batch size', intOption(1, 1 << 20), 256)
    .option('--lr <x>', 'corrector learning rate (Adam, cosine schedule)', floatOption(0, 10, { minExclusive: true }), 0.003);

/** '64,64' -> [64, 64]; 'linear' or '0' -> []. */
export function parseWidths(text: string, flag: string): number[] {
  const t = text.trim();
  if (t === 'linear' || t === '0' || t === '') return [];
  return t.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1 || n > 65536)
      throw new XbarError(`${flag}: '${s}' is not a layer width; write widths like 64,64 or 'linear'`);
    return n;
  });
}

function parseList(text: string, flag: string): string[] {
  const items = text
    .split(/[;]/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new XbarError(`${flag} is empty`);
  return items;
}

function parseNorms(text: string): ChipNorm[] {
  return text.split(',').map((s) => {
    const n = s.trim() as ChipNorm;
    if (!CHIP_NORMS.includes(n)) throw new XbarError(`--norms: '${s}' is not a normalisation; use ${CHIP_NORMS.join(', ')}`);
    return n;
  });
}

function parseCounts(text: string, flag: string): number[] {
  if (text.trim() === '' || text.trim() === 'none') return [];
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 1) throw new XbarError(`${flag}: '${s}' is not a positive whole number`);
    return n;
  });
}

function readPopulationFile(path: string | undefined): PopulationInput {
  if (!path) return {};
  if (!existsSync(path)) throw new XbarError(`population file ${path} not found`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new XbarError(`population file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

interface Setup {
  model: Model;
  modelSha: string;
  dataset: ReturnType<typeof loadDataset>;
  env: CorrectorEnv;
  software: number;
  device: ReturnType<typeof deviceFrom>;
  circuit: ReturnType<typeof resolveCircuit>;
}

function setup(
  o: { model: string; dataset?: string; dataDir?: string; limitTest?: number },
  hw: SimulateOptions,
  hidden: number[],
  pop: Population,
  kernels: Kernels,
): Setup {
  // The crossbar maps the network with its batch norms folded into the layers before them.
  const opened = openModel(o.model, o);
  const { file } = opened;
  const model = foldBatchNorm(opened.model);
  const name = o.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!name) throw new XbarError(`${o.model} does not record its dataset: pass --dataset`);
  // Cheap checks first, before the data is loaded and the arrays are planned.
  const nWeighted = model.layers.filter((l) => l instanceof Dense || l instanceof Conv2d).length;
  layerSets(pop, nWeighted);
  for (const l of hidden)
    if (l >= nWeighted - 1)
      throw new XbarError(`--hidden-voltages ${l}: a hidden layer is a weighted layer 0..${nWeighted - 2} (the last one is the output)`);
  const device = deviceFrom(hw);
  const circuit = resolveCircuit(circuitFrom(hw));
  const dataset = loadDataset(name, { dataDir: o.dataDir, limitTest: o.limitTest });
  checkCompatible(model.spec, dataset, `model ${o.model}`);
  const nCalib = Math.min(dataset.train.n, circuit.calibrationImages);
  const plan = planCrossbars(model, circuit, dataset.train.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);
  const env = makeEnv(model, plan, device, kernels, hidden);
  const software = evaluate(model, dataset.test, kernels).accuracy;
  return { model, modelSha: file.weightsSha256, dataset, env, software, device, circuit };
}

const hwOptions = (o: ChipOptions): SimulateOptions => ({
  model: o.model,
  device: o.device,
  sigma: o.sigma ?? 0,
  readNoise: o.readNoise,
  levels: o.levels,
  arraySize: o.arraySize,
  scaling: o.scaling,
  mapping: o.mapping,
  cellsPerWeight: o.cellsPerWeight,
  sliceBits: o.sliceBits,
  chips: 1,
  seed: o.seed,
});

function parseHiddenVoltages(text: string | undefined): number[] {
  if (!text) return [];
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) throw new XbarError(`--hidden-voltages: '${s}' is not a weighted-layer index`);
    return n;
  });
}
function checkProbeCounts(norms: ChipNorm[], o: TrainingOptions): void {
  if (norms.includes('calib') && o.calibImages < 1) throw new XbarError("'calib' normalisation needs --calib-images above 0");
  if (norms.includes('stats') && o.normImages < 2) throw new XbarError("'stats' normalisation needs --norm-images of 2 or more");
}

function probeConfig(o: TrainingOptions): ProbeConfig {
  return { statsImages: o.normImages, calibImages: o.calibImages, ridge: o.ridge };
}

function trainingConfig(o: TrainingOptions & { seed: number }, valFraction: number): CorrectorTraining {
  return { epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed + 100, valFraction };
}

export interface HeldOutSummary {
  heldOutChips: number;
  uncorrected: Summary;
  corrected: Summary;
  byType: Record<string, { chips: number; uncorrected: number; corrected: number }>;
}

export function summarizeHeldOut(rows: HeldOutChip[]): HeldOutSummary {
  const byType: HeldOutSummary['byType'] = {};
  for (const r of rows) {
    byType[r.type] ??= { chips: 0, uncorrected: 0, corrected: 0 };
    const t = byType[r.type];
    t.chips++;
    t.uncorrected += r.uncorrected;
    t.corrected += r.corrected[0] as number;
  }
  for (const t of Object.values(byType)) {
    t.uncorrected /= t.chips;
    t.corrected /= t.chips;
  }
  return {
    heldOutChips: rows.length,
    uncorrected: summarize(rows.map((r) => r.uncorrected)),
    corrected: summarize(rows.map((r) => r.corrected[0] as number)),
    byType,
  };
}

function printHeldOut(h: HeldOutSummary, software: number): void {
  const s = (x: Summary) => `${pct(x.mean)} +- ${pct(x.std)} (min ${pct(x.min)}, 95% CI of mean [${pct(x.ci95[0])}, ${pct(x.ci95[1])}])`;
  console.log(`held-out chips: ${h.heldOutChips}; software accuracy ${pct(software)}`);
  console.log(`  uncorrected ${s(h.uncorrected)}`);
  console.log(`  corrected   ${s(h.corrected)}`);
  console.log('  defect type          chips  uncorrected  corrected');
  for (const [t, v] of Object.entries(h.byType))
    console.log(`  ${t.padEnd(20)} ${String(v.chips).padStart(5)}  ${pct(v.uncorrected).padStart(11)}  ${pct(v.corrected).padStart(9)}`);
}

function resultHeader(kind: string, command: object) {
  return { format: 'xbar-corrector', version: 1, kind, xbarVersion: VERSION, createdAt: new Date().toISOString(), command: { ...command } };
}

function heldOutRun(
  s: Setup,
  pop: Population,
  probes: ReturnType<typeof makeProbes>,
  corrector: Parameters<typeof correctChip>[0],
  seed: number,
  firstChip: number,
  chips: number,
  kernels: Kernels,
  progress: Progress,
  faults?: FaultSpec,
): HeldOutChip[] {
  progress.start(chips, 'held-out chips');
  const rows = evaluateChips(
    s.env,
    pop,
    probes,
    s.dataset.test,
    { seed, firstChip, chips, faults },
    [(f, n, chip) => correctChip(corrector, f, n, chip, kernels)],
    (r, done) =>
      progress.update(
        done,
        `chip ${r.chip} ${r.type}: ${(100 * r.uncorrected).toFixed(1)}% -> ${(100 * (r.corrected[0] as number)).toFixed(1)}%`,
      ),
  );
  progress.stop();
  return rows;
}

/** Trains a corrector into the run folder --out (checked before any work, replaced whole at the end). */
export function runCorrectTrain(o: CorrectTrainOptions, kernels: Kernels, progress: Progress) {
  if (!o.out) throw new XbarError('--out is required: the folder to save the corrector in');
  const inputs = [o.model, o.population, o.dataDir];
  return inRunFolderSync({ out: o.out, command: 'correct train', key: o, inputs }, (run) =>
    correctTrainInto(o, (run as RunFolder).dir, kernels, progress),
  );
}

function correctTrainInto(o: CorrectTrainOptions, dir: string, kernels: Kernels, progress: Progress) {
  const hidden = parseWidths(o.hidden, '--hidden');
  checkProbeCounts([o.norm], o);
  const pop = populationFromFlags(readPopulationFile(o.population), o);
  const s = setup(o, hwOptions(o), parseHiddenVoltages(o.hiddenVoltages), pop, kernels);
  const probes = makeProbes(s.env, s.dataset.train, o.seed, probeConfig(o));
  progress.start(o.trainChips, 'training chips');
  const set = generateVoltageSet(
    s.env,
    pop,
    probes,
    s.dataset.train,
    { seed: o.seed, firstChip: 0, chips: o.trainChips, imagesPerChip: o.imagesPerChip },
    (r, done) => progress.update(done, `chip ${r.chip} ${r.type} ${r.kind}: ${(100 * r.uncorrected).toFixed(1)}%`),
  );
  progress.stop();
  const shape = { hidden, norm: o.norm, calibImages: o.norm === 'calib' ? o.calibImages : 0 };
  const t0 = performance.now();
  const t = trainCorrector(set, shape, trainingConfig(o, o.valFraction), kernels, undefined, {
    onEpochStart: (epoch, steps) => progress.start(steps, `epoch ${epoch}/${o.epochs}`),
    onBatch: (done, _total, loss) => progress.update(done, `loss ${loss.toFixed(4)}`),
    onEpoch: (e) =>
      progress.log(
        `epoch ${e.epoch}/${o.epochs}  loss ${e.loss.toFixed(4)}  train ${(100 * e.trainAccuracy).toFixed(2)}%` +
          (e.valAccuracy !== undefined ? `  val chips ${(100 * e.valAccuracy).toFixed(2)}%` : '') +
          `  ${e.seconds.toFixed(1)} s`,
      ),
  });
  progress.stop();
  const trainSeconds = (performance.now() - t0) / 1000;
  const main = networkCost(s.model);
  const cost = costOf(t.corrector, main);
  const meta = {
    model: o.model,
    modelSha256: s.modelSha,
    dataset: s.dataset.name,
    device: s.device,
    circuit: s.circuit,
    population: pop,
    probes: probeConfig(o),
    hiddenVoltages: parseHiddenVoltages(o.hiddenVoltages),
    seed: o.seed,
    trainChips: o.trainChips,
    imagesPerChip: o.imagesPerChip,
    training: trainingConfig(o, o.valFraction),
    history: t.history,
    trainSeconds,
    mainNetwork: main,
    cost,
    trainingChips: set.chips.map((c) => ({ chip: c.chip, type: c.type, kind: c.kind, faults: c.faults, uncorrected: c.uncorrected })),
    command: { ...o },
  };
  saveCorrector(dir, t.corrector, meta);
  let heldOut: HeldOutChip[] = [];
  if (o.evalChips > 0) heldOut = heldOutRun(s, pop, probes, t.corrector, o.seed, o.trainChips, o.evalChips, kernels, progress);
  const summary = heldOut.length ? summarizeHeldOut(heldOut) : null;
  const result = {
    ...resultHeader('train', o),
    model: o.model,
    dataset: s.dataset.name,
    softwareAccuracy: s.software,
    seed: o.seed,
    population: pop,
    corrector: { name: correctorName(t.corrector), hidden, norm: o.norm, calibImages: t.corrector.calibImages, ...cost },
    mainNetwork: main,
    hardwareCost: correctorCost(s, t.corrector, kernels),
    trainChips: t.trainChips,
    valChips: t.valChips,
    samples: t.samples,
    finalValAccuracy: t.history.at(-1)?.valAccuracy ?? null,
    trainSeconds,
    heldOut: summary && { firstChip: o.trainChips, ...summary, chips: heldOut },
  };
  writeFileAtomic(join(dir, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
  return { result, summary, software: s.software, pop, cost, name: correctorName(t.corrector), valAccuracy: result.finalValAccuracy };
}

/** Measures a corrector on held-out chips; with --out, the results are a run folder. */
export function runCorrectEval(o: CorrectEvalOptions, kernels: Kernels, progress: Progress) {
  const inputs = [o.corrector, o.model, o.dataDir];
  return inRunFolderSync({ out: o.out, command: 'correct eval', key: o, inputs }, (run) => correctEvalInto(o, run?.dir, kernels, progress));
}

function correctEvalInto(o: CorrectEvalOptions, dir: string | undefined, kernels: Kernels, progress: Progress) {
  const { corrector, file } = loadCorrector(o.corrector);
  const meta = file.meta as Record<string, unknown> & {
    model: string;
    modelSha256: string;
    population: PopulationInput;
    probes: ProbeConfig;
    hiddenVoltages: number[];
    seed: number;
    trainChips: number;
    device: Parameters<typeof makeEnv>[2];
    circuit: ReturnType<typeof resolveCircuit>;
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
  const dsName = o.dataset ?? meta.dataset;
  const dataset = loadDataset(dsName, { dataDir: o.dataDir, limitTest: o.limitTest });
  checkCompatible(model.spec, dataset, `model ${modelDir}`);
  const circuit = resolveCircuit(meta.circuit);
  const nCalib = Math.min(dataset.train.n, circuit.calibrationImages);
  const plan = planCrossbars(model, circuit, dataset.train.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);
  const faults = o.faults ? loadFaultSpec(o.faults) : undefined;
  if (faults) checkFaultMaps(plan, faults);
  const env = makeEnv(model, plan, meta.device, kernels, meta.hiddenVoltages ?? []);
  const probes = makeProbes(env, dataset.train, meta.seed, meta.probes);
  const s: Setup = {
    model,
    modelSha: mf.weightsSha256,
    dataset,
    env,
    software: evaluate(model, dataset.test, kernels).accuracy,
    device: meta.device,
    circuit,
  };
  if (o.shard && !dir) throw new XbarError('--shard needs --out: a shard writes its part of the results there, for xbar merge');
  // A shard evaluates its block of the held-out chips; chip i is the same chip in any block.
  const block = o.shard ? itemBlock(o.chips, o.shard) : { first: 0, count: o.chips };
  const rows = heldOutRun(s, pop, probes, corrector, seed, firstChip + block.first, block.count, kernels, progress, faults);
  const summary = summarizeHeldOut(rows);
  const base = {
    ...resultHeader('eval', { ...studyConfig(o), out: o.out }),
    corrector: o.corrector,
    name: correctorName(corrector),
    model: modelDir,
    dataset: dataset.name,
    softwareAccuracy: s.software,
    seed,
    firstChip,
    population: pop,
    ...(faults && { faults: formatFaultSpec(faults) }),
    hardwareCost: correctorCost(s, corrector, kernels),
  };
  const result = { ...base, ...summary, chips: rows };
  if (dir && o.shard) {
    const inputs = {
      model: mf.weightsSha256,
      corrector: checksum(readFileSync(join(o.corrector, 'corrector.json'))),
      data: checksum(dataset.test.x, dataset.test.y),
    };
    const header = { command: 'correct eval', config: studyConfig(o), inputs, seed, shard: o.shard, items: { ...block, total: o.chips } };
    writeFileAtomic(join(dir, PART_FILE), `${JSON.stringify(makePart(header, { base, chips: rows }))}\n`);
  } else if (dir) writeCorrectEval(dir, result);
  return { result, summary, software: s.software, pop, name: correctorName(corrector) };
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
  return inRunFolderSync({ out: o.out, command: 'correct study', key: o, inputs }, (run) =>
    correctStudyInto(o, run?.dir, kernels, progress),
  );
}

function correctStudyInto(o: CorrectStudyOptions, dir: string | undefined, kernels: Kernels, progress: Progress) {
  const pop = populationFromFlags(readPopulationFile(o.population), o);
  const cfg: StudyConfig = {
    seed: o.seed,
    trainChips: o.trainChips,
    evalChips: o.evalChips,
    imagesPerChip: o.imagesPerChip,
    probes: probeConfig(o),
    training: trainingConfig(o, 0),
    sizes: parseList(o.sizes, '--sizes').map((w) => parseWidths(w, '--sizes')),
    norms: parseNorms(o.norms),
    mainSize: parseWidths(o.mainSize, '--main-size'),
    loo: o.loo,
    calibSweep: parseCounts(o.calibSweep, '--calib-sweep'),
    oracleChips: o.oracleChips,
    oracleImages: o.oracleImages,
  };
  if (cfg.evalChips < 1) throw new XbarError('--eval-chips must be at least 1 for a study');
  checkProbeCounts(cfg.norms, o);
  const s = setup(o, hwOptions(o), parseHiddenVoltages(o.hiddenVoltages), pop, kernels);
  const r = runStudy(s.env, pop, s.dataset.train, s.dataset.test, cfg, kernels, progress);
  const markdown = studyMarkdown(r, s.software);
  const result = {
    ...resultHeader('study', o),
    model: o.model,
    modelSha256: s.modelSha,
    dataset: s.dataset.name,
    softwareAccuracy: s.software,
    seed: o.seed,
    population: pop,
    device: s.device,
    circuit: s.circuit,
    config: cfg,
    ...r,
  };
  if (dir) {
    writeFileAtomic(join(dir, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileAtomic(join(dir, 'report.md'), `${markdown}\n`);
  }
  return { result, markdown };
}

export function registerCorrect(p: Command): void {
  const c = p
    .command('correct')
    .description("learned output corrector: a small network that reads a defective chip's output voltages and answers the class");

  common(
    trainingOptions(
      chipOptions(
        c
          .command('train')
          .description(
            'generate output voltages from many simulated defective chips, train a corrector on them, save it and test it on held-out chips',
          ),
      ),
    )
      .option('--hidden <widths>', "corrector hidden widths, e.g. 64,64, or 'linear'", '64,64')
      .addOption(
        new Option('--norm <kind>', 'per-chip normalisation: none (chip-agnostic), stats (unlabelled images), calib (known images)')
          .argParser(choiceOption(CHIP_NORMS))
          .default('calib'),
      )
      .option('--val-fraction <x>', 'share of training chips kept for validation', floatOption(0, 1, { maxExclusive: true }), 0.1)
      .option('-o, --out <dir>', 'save the corrector (corrector.json, model.json, weights.bin) and results.json here'),
  ).action((o) => {
    const r = runCorrectTrain(o, kernelsFrom(o), makeProgress(Boolean(o.quiet || o.json)));
    if (o.json) {
      const { chips: _c, ...held } = (r.result.heldOut ?? { chips: [] }) as Record<string, unknown>;
      console.log(JSON.stringify({ ...r.result, heldOut: r.result.heldOut ? held : null }, null, 2));
      return;
    }
    console.log(
      `trained corrector ${r.name} (${r.cost.parameters} parameters, ${r.cost.macs} multiply-adds = ${r.cost.relParameters.toFixed(2)}x / ${r.cost.relMacs.toFixed(2)}x the main network) ` +
        `on ${r.result.trainChips} chips, ${r.result.samples} samples${hardwareText(r.result.hardwareCost)}` +
        (r.valAccuracy !== null ? `; validation chips ${pct(r.valAccuracy)}` : '') +
        `; saved to ${o.out}`,
    );
    if (r.summary) printHeldOut(r.summary, r.software);
  });

  common(
    c
      .command('eval')
      .description('test a saved corrector on held-out chips (by default the chips after its training chips, same defect population)')
      .requiredOption('--corrector <dir>', 'folder of a saved corrector (xbar correct train --out)')
      .option('-m, --model <dir>', 'the main model (default: the one recorded in the corrector)')
      .option('-c, --chips <n>', 'held-out chips', intOption(1, 1_000_000), 100)
      .option('--first-chip <n>', 'first chip index (default: right after the training chips)', intOption(0))
      .option('-s, --seed <n>', "chip seed (default: the corrector's)", intOption(0, 2 ** 31 - 1))
      .option('--patterns <list>', 'override the defect types (e.g. one the corrector never saw)')
      .option(
        '--faults <spec>',
        "give every held-out chip this fault spec instead of population draws: any patterns, gradients, combinations, random faults or a defect-map file (.png, .csv, .json), e.g. 'row-gradient:density=0.05+random:sa1=0.002' or wafer.png@layers=2",
      )
      .option('--kinds <list>', 'override the stuck-cell kinds and weights')
      .option('--density <list>', 'override density ranges per kind')
      .option('--level <range>', 'override the stuck-at level range')
      .option('--layers <sets>', 'override the defect layer sets')
      .addOption(new Option('--geometry <kind>', 'random or fixed').argParser(choiceOption(['random', 'fixed'] as const)))
      .option('-d, --dataset <name>', 'dataset (default: the one the corrector was trained on)')
      .option('--data-dir <dir>', DATA_DIR_HELP)
      .option('--limit-test <n>', 'use only the first n test images', intOption(1))
      .option('-o, --out <dir>', 'write results.json here')
      .option(
        '--shard <K/N|auto>',
        'evaluate only shard K of N of the held-out chips and write its part to --out, for xbar merge; auto, auto/N: from a Slurm array task or Kubernetes Indexed Job (docs/cluster.md)',
        shardOption,
      ),
  ).action((o) => {
    const r = runCorrectEval(o, kernelsFrom(o), makeProgress(Boolean(o.quiet || o.json)));
    if (o.json) {
      const { chips: _c, ...rest } = r.result;
      console.log(JSON.stringify(rest, null, 2));
      return;
    }
    console.log(`corrector ${r.name} on ${o.faults ? `chips with --faults ${o.faults}` : describePopulation(r.pop)}`);
    printHeldOut(r.summary, r.software);
    if (o.out) console.log(`results written to ${o.out}`);
  });

  common(
    trainingOptions(
      chipOptions(
        c
          .command('study')
          .description(
            'the corrector experiments on one defect population: size x normalisation sweep, leave-one-defect-type-out matrix, calibration-image sweep, per-chip oracle, with costs',
          ),
      ),
    )
      .option('--sizes <list>', "corrector hidden widths to sweep, ';'-separated", 'linear;8;16;32;64;64,64;128,128')
      .option('--norms <list>', 'per-chip normalisations to sweep', 'none,stats,calib')
      .option('--main-size <widths>', 'corrector of the leave-one-out matrix and the calibration sweep', '64,64')
      .option('--no-loo', 'skip the leave-one-defect-type-out matrix')
      .option('--calib-sweep <list>', "calibration images per chip to sweep with 'calib' (or none)", '5,10,50,200')
      .option('--oracle-chips <n>', 'per-chip oracle on the first n held-out chips (0 = none)', intOption(0, 100_000), 10)
      .option('--oracle-images <n>', 'labelled images per oracle chip', intOption(1, 1_000_000), 5000)
      .option('-o, --out <dir>', 'write results.json and report.md here'),
  ).action((o) => {
    const r = runCorrectStudy(o, kernelsFrom(o), makeProgress(Boolean(o.quiet || o.json)));
    if (o.json) {
      const { heldOut: _h, ...rest } = r.result;
      console.log(JSON.stringify(rest, null, 2));
      return;
    }
    console.log(r.markdown);
    if (o.out) console.log(`results written to ${o.out}`);
  });
}

/** Energy, latency and area the corrector adds per inference on the chip (docs/cost.md), default technology. */
function correctorCost(s: Setup, c: Corrector, kernels: Kernels) {
  const groups = c.layout.groups;
  const outputs = groups[groups.length - 1]?.size ?? c.classes;
  return correctorRecoveryCost(
    s.model,
    c.model,
    c.layout.size,
    outputs,
    recoveryContext(s.circuit, s.device, s.dataset.train, kernels, defaultTech()),
  );
}
