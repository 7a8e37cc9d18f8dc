import type { ItemRange, Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { type Progress, silentProgress } from '../core/progress.js';
import { correctorRecoveryCost, recoveryContext } from '../cost/recovery.js';
import { defaultTech } from '../cost/tech.js';
import type { Circuit } from '../crossbar/circuit.js';
import { planCrossbars } from '../crossbar/plan.js';
import { type Summary, summarize } from '../crossbar/stats.js';
import type { Dataset } from '../data/dataset.js';
import type { Device } from '../device/config.js';
import { type FaultSpec, formatFaultSpec } from '../faults/index.js';
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
  type Probes,
  type VoltageSet,
} from '../mitigation/corrector/data.js';
import { costOf, runStudy, type StudyConfig, studyMarkdown } from '../mitigation/corrector/study.js';
import { layerSets, type Population, type PopulationFlags } from '../mitigation/population.js';
import { Conv2d } from '../nn/conv.js';
import { Dense } from '../nn/dense.js';
import type { Model } from '../nn/model.js';
import { evaluate } from '../nn/train.js';
import { VERSION } from '../version.js';
import type { HardwareOptions } from './inputs.js';

/**
 * The learned output corrector's studies (`xbar correct train | eval | study`, docs/corrector.md):
 * train a corrector on many simulated defective chips and test it on others, test a saved one,
 * and the study of sizes, normalisations, left-out defect types and calibration images. No files:
 * a model, its data and a defect population in, results out (corrector-node.ts reads the inputs,
 * saves the corrector and writes the run folder).
 */

/** Options shared by the commands that make chips. */
export interface ChipOptions extends PopulationFlags, Pick<HardwareOptions, 'mapping' | 'cellsPerWeight' | 'sliceBits'> {
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

export interface TrainingOptions {
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

export interface CorrectTrainOptions extends ChipOptions, TrainingOptions {
  hidden: string;
  norm: ChipNorm;
  valFraction: number;
}

export interface CorrectEvalOptions extends PopulationFlags {
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

export interface CorrectStudyOptions extends ChipOptions, TrainingOptions {
  sizes: string;
  norms: string;
  mainSize: string;
  loo: boolean;
  calibSweep: string;
  oracleChips: number;
  oracleImages: number;
}

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

/** A model on its chips: what every corrector command needs. */
export interface CorrectorSetup {
  model: Model;
  modelSha: string;
  dataset: Dataset;
  env: CorrectorEnv;
  software: number;
  device: Device;
  circuit: Circuit;
}

/** Cheap checks first, before the data is loaded and the arrays are planned. */
export function checkChipOptions(model: Model, pop: Population, hidden: number[]): void {
  const nWeighted = model.layers.filter((l) => l instanceof Dense || l instanceof Conv2d).length;
  layerSets(pop, nWeighted);
  for (const l of hidden)
    if (l >= nWeighted - 1)
      throw new XbarError(`--hidden-voltages ${l}: a hidden layer is a weighted layer 0..${nWeighted - 2} (the last one is the output)`);
}

/** The arrays planned on the first training images, the corrector's chip environment and the software accuracy. */
export function correctorSetup(
  model: Model,
  modelSha: string,
  dataset: Dataset,
  device: Device,
  circuit: Circuit,
  hidden: number[],
  kernels: Kernels,
): CorrectorSetup {
  const nCalib = Math.min(dataset.train.n, circuit.calibrationImages);
  const plan = planCrossbars(model, circuit, dataset.train.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);
  const env = makeEnv(model, plan, device, kernels, hidden);
  const software = evaluate(model, dataset.test, kernels).accuracy;
  return { model, modelSha, dataset, env, software, device, circuit };
}

export const hwOptions = (o: ChipOptions): HardwareOptions => ({
  device: o.device,
  sigma: o.sigma ?? 0,
  readNoise: o.readNoise,
  levels: o.levels,
  arraySize: o.arraySize,
  scaling: o.scaling,
  mapping: o.mapping,
  cellsPerWeight: o.cellsPerWeight,
  sliceBits: o.sliceBits,
});

export function parseHiddenVoltages(text: string | undefined): number[] {
  if (!text) return [];
  return text.split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) throw new XbarError(`--hidden-voltages: '${s}' is not a weighted-layer index`);
    return n;
  });
}
export function checkProbeCounts(norms: ChipNorm[], o: TrainingOptions): void {
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

export function resultHeader(kind: string, command: object) {
  return { format: 'xbar-corrector', version: 1, kind, xbarVersion: VERSION, createdAt: new Date().toISOString(), command: { ...command } };
}

function heldOutRun(
  s: CorrectorSetup,
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

/** Energy, latency and area the corrector adds per inference on the chip (docs/cost.md), default technology. */
function correctorCost(s: CorrectorSetup, c: Corrector, kernels: Kernels) {
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

/** The probe images of a training run (its per-chip normalisation reads every chip on them). */
export const trainingProbes = (o: CorrectTrainOptions, s: CorrectorSetup) => makeProbes(s.env, s.dataset.train, o.seed, probeConfig(o));

/**
 * The voltages of training chips `block` (default 0..trainChips-1; a shard's block of them: chip i
 * is the same chip in any block, drawn from (seed, i)).
 */
export function trainingSet(
  o: CorrectTrainOptions,
  s: CorrectorSetup,
  pop: Population,
  probes: Probes,
  progress: Progress = silentProgress,
  block: ItemRange = { first: 0, count: o.trainChips },
): VoltageSet {
  progress.start(block.count, 'training chips');
  const set = generateVoltageSet(
    s.env,
    pop,
    probes,
    s.dataset.train,
    { seed: o.seed, firstChip: block.first, chips: block.count, imagesPerChip: o.imagesPerChip },
    (r, done) => progress.update(done, `chip ${r.chip} ${r.type} ${r.kind}: ${(100 * r.uncorrected).toFixed(1)}%`),
  );
  progress.stop();
  return set;
}

/**
 * Trains a corrector on the voltages of chips 0..trainChips-1 and tests it on the next evalChips
 * chips: the corrector, the metadata it is saved with, and the results file's content. `given`:
 * the training set already generated (xbar merge of a sharded correct train) and the command the
 * files record (default: the options).
 */
export function trainCorrectorStudy(
  o: CorrectTrainOptions,
  s: CorrectorSetup,
  pop: Population,
  kernels: Kernels,
  progress: Progress = silentProgress,
  given: { probes?: Probes; set?: VoltageSet; command?: object } = {},
) {
  const hidden = parseWidths(o.hidden, '--hidden');
  const probes = given.probes ?? trainingProbes(o, s);
  const set = given.set ?? trainingSet(o, s, pop, probes, progress);
  const command = given.command ?? o;
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
    command: { ...command },
  };
  let heldOut: HeldOutChip[] = [];
  if (o.evalChips > 0) heldOut = heldOutRun(s, pop, probes, t.corrector, o.seed, o.trainChips, o.evalChips, kernels, progress);
  const summary = heldOut.length ? summarizeHeldOut(heldOut) : null;
  const result = {
    ...resultHeader('train', command),
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
  return {
    corrector: t.corrector,
    meta,
    result,
    summary,
    software: s.software,
    pop,
    cost,
    name: correctorName(t.corrector),
    valAccuracy: result.finalValAccuracy,
  };
}

/**
 * A saved corrector on held-out chips `firstChip..firstChip+chips-1` of `seed` (or a shard's block
 * of them: chip i is the same chip in any block), with the population's defects or one fault spec
 * on every chip: the results file's content. `run.command` is what results.json records as the
 * command (default: the options).
 */
export function evalCorrectorStudy(
  o: CorrectEvalOptions,
  corrector: Corrector,
  s: CorrectorSetup,
  pop: Population,
  probes: Probes,
  run: { modelDir: string; seed: number; firstChip: number; block?: ItemRange; faults?: FaultSpec; command?: object },
  kernels: Kernels,
  progress: Progress = silentProgress,
) {
  const { modelDir, seed, firstChip, faults } = run;
  const block = run.block ?? { first: 0, count: o.chips };
  const rows = heldOutRun(s, pop, probes, corrector, seed, firstChip + block.first, block.count, kernels, progress, faults);
  const summary = summarizeHeldOut(rows);
  // What every shard of a run shares (xbar merge checks it), then the chips' figures.
  const base = {
    ...resultHeader('eval', run.command ?? o),
    corrector: o.corrector,
    name: correctorName(corrector),
    model: modelDir,
    dataset: s.dataset.name,
    softwareAccuracy: s.software,
    seed,
    firstChip,
    population: pop,
    ...(faults && { faults: formatFaultSpec(faults) }),
    hardwareCost: correctorCost(s, corrector, kernels),
  };
  const result = { ...base, ...summary, chips: rows };
  return { base, rows, result, summary, software: s.software, pop, name: correctorName(corrector) };
}

/** The options' study configuration (checked: a study needs held-out chips, each normalisation its images). */
export function studyConfig(o: CorrectStudyOptions): StudyConfig {
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
  return cfg;
}

/**
 * The corrector experiments on one defect population (runStudy): the results file's content and
 * its Markdown report.
 */
export function correctorStudy(
  o: CorrectStudyOptions,
  cfg: StudyConfig,
  s: CorrectorSetup,
  pop: Population,
  kernels: Kernels,
  progress: Progress = silentProgress,
) {
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
  return { result, markdown };
}
