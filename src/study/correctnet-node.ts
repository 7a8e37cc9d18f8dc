import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { checksum, makePart, PART_FILE, studyConfig } from '../cluster/part.js';
import type { PartIn } from '../cluster/parts-node.js';
import type { ItemRange, Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { loadKernels } from '../core/kernels-node.js';
import { checkFits } from '../core/memory.js';
import { availableMemory } from '../core/memory-node.js';
import type { Progress } from '../core/progress.js';
import { makeProgress } from '../core/progress-node.js';
import { hardwareText } from '../cost/format.js';
import { compensationRecoveryCost, type RecoveryCost, recoveryContext, siteOverhead } from '../cost/recovery.js';
import { resolveCircuit } from '../crossbar/circuit.js';
import { runMonteCarlo } from '../crossbar/montecarlo.js';
import { runMonteCarloParallel } from '../crossbar/parallel-node.js';
import { type CrossbarPlan, planCrossbars } from '../crossbar/plan.js';
import { type Summary, summarize } from '../crossbar/stats.js';
import { type Dataset, type Split, trainValSplit } from '../data/index.js';
import { loadDataset } from '../data/node.js';
import { type Device, resolveDevice } from '../device/config.js';
import { programVaries } from '../device/program.js';
import {
  type CalibratedChipResult,
  type CalibrationLoss,
  type CalibrationSearchSetup,
  calibrateAndSimulate,
  calibrationLosses,
  calibrationPlacementProblem,
  calibrationSites,
  chipConfig,
} from '../mitigation/correctnet/calibration.js';
import { calibrateChipsInWorkers, calibrateChipsParallel } from '../mitigation/correctnet/calibration-node.js';
import {
  type CompensationSite,
  compensationCost,
  networkCost,
  sitesOf,
  trainCompensation,
  withCompensation,
} from '../mitigation/correctnet/compensation.js';
import {
  type Calibration,
  compensationPlacementProblem,
  configSites,
  errorAmplification,
  head,
  type LayerAmplification,
  type LayerSensitivity,
  layerSensitivity,
  mean,
  type PlacementSetup,
  softwareChipAccuracy,
} from '../mitigation/correctnet/correctnet.js';
import {
  Evaluator,
  exhaustiveSearch,
  greedyPlacement,
  type PlacementProblem,
  REINFORCE_DEFAULTS,
  type RlResult,
  reinforcePlacement,
  type SearchResult,
} from '../mitigation/correctnet/placement.js';
import { type LipschitzKind, layerSpectralNorms } from '../mitigation/lipschitz.js';
import { loadModel, saveModel } from '../nn/io-node.js';
import { chipMemory, trainingMemory } from '../nn/memory.js';
import type { Model } from '../nn/model.js';
import { presets } from '../nn/presets.js';
import { evaluate } from '../nn/train.js';
import { pct } from '../report/util.js';
import { VERSION } from '../version.js';
import { assembleCorrectnet, type CorrectnetPartData, type CorrectnetWork, shardWork } from './correctnet-part.js';
import { loadTech, resolveModel } from './inputs-node.js';
import { RunFolder } from './run-folder.js';
import { trainInto } from './train-node.js';

export interface CorrectnetOptions {
  model: string;
  dataset?: string;
  dataDir?: string;
  limitTrain?: number;
  limitTest?: number;
  out: string;
  sigmas: string;
  chips: number;
  seed: number;
  device: string;
  readNoise?: number;
  targetSigma: string;
  plainEpochs?: number;
  finetuneEpochs: number;
  lipschitz: LipschitzKind;
  lambda: number;
  lipschitzBound: number;
  noiseSigma?: number;
  noiseRamp: number;
  noiseRails?: boolean;
  budget: number;
  ranks: string;
  compKernel: number;
  compEpochs: number;
  compLr: number;
  search: string;
  maxExhaustive: number;
  episodes: number;
  rlBatch: number;
  rlLr: number;
  searchTrain: number;
  searchEpochs: number;
  searchChips: number;
  valImages: number;
  overheadWeight: number;
  /** What the placement budget and reward's overhead measure: parameters (default), or energy or latency per inference. */
  overheadMeasure?: 'params' | 'energy' | 'latency';
  tech?: string;
  workers?: number;
  calibrate?: string;
  calibrateEpochs: number;
  calibrateLr: number;
  calibrateChips?: number;
  calibrateSearch?: number;
  calibrateSearchEpochs?: number;
  calibrateSearchChips?: number;
  calibrateSearchEpisodes?: number;
  calibrateSearchRemeasure?: number;
  calibrateBases: string;
  calibrateRanks?: string;
  calibrateLoss: string;
  /** Run only this shard's share of the chip evaluations and write its part to --out (src/cluster/). */
  shard?: Shard;
  /** Run only the steps every shard shares (training, placement, compensation) into --out. */
  prepare?: boolean;
  /** A finished run folder (a --prepare run) whose steps this run reuses instead of computing them. */
  reuse?: string;
}

const METHODS = ['plain', 'noise', 'lipschitz', 'lipschitz+comp', 'noise+comp'] as const;
/** The five methods, plus `<base>+cal<n>` columns with --calibrate (per-chip calibrated modules). */
type Method = (typeof METHODS)[number] | `${'plain' | 'lipschitz'}+cal${number}`;

interface SweepPoint {
  sigma: number;
  summary: Summary;
  seconds: number;
  accuracies: number[];
}

interface MethodResult {
  method: Method;
  dir: string;
  /** NaN for per-chip calibrated columns: each chip has its own modules. */
  cleanAccuracy: number;
  parameters: number;
  compensation: ReturnType<typeof compensationCost> | null;
  /** Energy, latency and area the modules add per inference (src/cost), or null without modules. */
  hardwareCost?: RecoveryCost | null;
  sweep: SweepPoint[];
  /** Per-chip calibration (the +cal columns): its cost per chip. */
  calibration?: CalibrationCost;
}

/** A per-chip calibrated column: `base` with modules calibrated on `n` images of each chip. */
interface Column {
  method: Method;
  baseName: 'plain' | 'lipschitz';
  base: Model;
  baseDir: string;
  n: number;
}

interface CalibrationCost {
  /** Images measured through each chip (labelled unless loss is 'kd'). */
  images: number;
  /** What the modules fit: the labels ('ce') or the clean network's outputs ('kd'). */
  loss: CalibrationLoss;
  epochs: number;
  lr: number;
  sites: CompensationSite[];
  chips: number;
  /** Mean seconds per chip of the calibration (module training and rail measurement; not the test). */
  secondsPerChip: number;
}

function parseList(text: string, what: string, min: number): number[] {
  const xs = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (!xs.length || xs.some((x) => !Number.isFinite(x) || x < min))
    throw new XbarError(`--${what} '${text}' must be a comma-separated list of numbers >= ${min}, e.g. 0,0.5,1`);
  return xs;
}

/** A saved model's identity for cache keys: the checksum of its weights. */
function modelId(dir: string): string {
  try {
    return String(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).weightsSha256);
  } catch {
    return dir;
  }
}

/** The identity of a dataset for cache keys: the checksum of its images and labels. */
function datasetId(ds: Dataset): string {
  const h = createHash('sha256');
  for (const a of [ds.train.x, ds.train.y, ds.test.x, ds.test.y]) h.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
}

/**
 * The network a run trained into `rel` (plain, noise-injection, Lipschitz, compensated), reused
 * when this run, the complete run at --out or an interrupted run recorded it with the same key and
 * its files are unchanged; copied into this run's folder. Otherwise `train` makes it there.
 */
function keptOrTrained(run: RunFolder, rel: string, label: string, key: unknown, progress: Progress, train: (dir: string) => Model): Model {
  const kept = run.lookupDir(rel, key);
  if (kept) {
    progress.log(`${label}: reusing ${rel}`);
    return loadModel(kept).model;
  }
  rmSync(run.path(rel), { recursive: true, force: true });
  const model = train(run.path(rel));
  run.storeDir(rel, key);
  return model;
}

function reused<T>(run: RunFolder, name: string, key: unknown, progress: Progress): T | undefined {
  const hit = run.lookup<T>(name, key);
  if (hit !== undefined) progress.log(`${name}: reusing steps/${name}.json`);
  return hit;
}

/** A cached step: reused when this run or an earlier one made it with the same key. */
function cached<T>(run: RunFolder, name: string, key: unknown, progress: Progress, compute: () => T): T {
  const hit = reused<T>(run, name, key, progress);
  if (hit !== undefined) return hit;
  const value = compute();
  run.store(name, key, value);
  return value;
}

async function cachedAsync<T>(run: RunFolder, name: string, key: unknown, progress: Progress, compute: () => Promise<T>): Promise<T> {
  const hit = reused<T>(run, name, key, progress);
  if (hit !== undefined) return hit;
  const value = await compute();
  run.store(name, key, value);
  return value;
}

/**
 * `problem` with each evaluation's accuracy written to steps/<name>-evaluations.json as it ends,
 * so that an interrupted search resumes: the searches are deterministic given the accuracies, so
 * replaying the written ones (at no cost) retraces the interrupted run and the result is the
 * uninterrupted one's; only the seconds reported count the resumed run alone. The journal's key
 * is the search's without the searches and episodes, which do not change an evaluation: a search
 * run again with more or fewer episodes replays the same evaluations.
 */
function journaled(
  problem: PlacementProblem,
  run: RunFolder,
  name: string,
  searchKey: Record<string, unknown>,
  progress: Progress,
): PlacementProblem {
  const file = `${name}-evaluations`;
  const key = { ...searchKey, searches: undefined, episodes: undefined, batch: undefined, rlLr: undefined };
  const saved = new Map(Object.entries(run.lookup<Record<string, number>>(file, key) ?? {}));
  if (saved.size) progress.log(`${name}: replaying ${saved.size} evaluations from steps/${file}.json`);
  return {
    ...problem,
    evaluate: async (config) => {
      const k = config.join(',');
      const hit = saved.get(k);
      if (hit !== undefined) return hit;
      const accuracy = await problem.evaluate(config);
      saved.set(k, accuracy);
      run.store(file, key, Object.fromEntries(saved));
      return accuracy;
    },
  };
}

/**
 * The images a correctnet run holds out and calibrates with: the validation split the plain network
 * was trained without (same seed as xbar train), its first `valImages` (search rewards), and the
 * first training images, which set the simulator's rails. Shared with scripts/calibration-proxy.mjs
 * so a re-evaluation of a finished run sees the same images.
 */
export function correctnetImages(ds: Dataset, plainSeed: number, valImages: number) {
  const { train, val } = trainValSplit(ds.train, 0.1, plainSeed + 2);
  const n = Math.min(ds.train.n, resolveCircuit({}).calibrationImages);
  const rails: Calibration = { x: ds.train.x.subarray(0, n * (ds.train.x.length / ds.train.n)), n };
  return { trainSplit: train, val, valSet: head(val, valImages), rails };
}

/**
 * One evaluation of the calibrated placement search: the modules calibrated on the first `images`
 * training images of each search chip (the target sigma's variation, no read noise) for `epochs`,
 * rewarded on the validation images. Shared with scripts/calibration-proxy.mjs, which re-evaluates a
 * finished run's search with other images, epochs or chips.
 */
export function calibrationSearchSetup(
  o: Pick<CorrectnetOptions, 'seed' | 'compKernel' | 'budget' | 'overheadWeight' | 'calibrateLr' | 'calibrateLoss'>,
  run: {
    base: Model;
    ranks: number[];
    sensitivity: LayerSensitivity[];
    device: Device;
    trainSplit: Split;
    valSet: Split;
    rails: Calibration;
    overhead?: CalibrationSearchSetup['overhead'];
  },
  search: { images: number; epochs: number; chips: number },
): CalibrationSearchSetup {
  return {
    overhead: run.overhead,
    base: run.base,
    ranks: run.ranks,
    kernel: o.compKernel,
    budget: o.budget,
    overheadWeight: o.overheadWeight,
    sensitivity: run.sensitivity,
    data: head(run.trainSplit, search.images),
    val: run.valSet,
    device: { ...run.device, readNoise: 0 },
    chips: search.chips,
    seed: o.seed + 41,
    epochs: search.epochs,
    batchSize: 64,
    lr: o.calibrateLr,
    rails: run.rails,
    loss: o.calibrateLoss as CalibrationLoss,
  };
}

/** Each placement evaluation's chips go to worker threads (minutes per evaluation on a large network). */
export function evaluationWorkers(workers: number | undefined, chips: number, kernels: Kernels) {
  const n = Math.min(workers ?? availableParallelism(), chips);
  const runChips = n > 1 ? calibrateChipsInWorkers({ workers: n, kernels: kernels.name === 'js' ? 'js' : 'native' }) : undefined;
  return { workers: n, runChips };
}

/**
 * What a correctnet run does: the whole study (`run`); only the steps every shard shares
 * (`prepare`, --prepare); one shard's share of the chip evaluations, written as a part (`shard`,
 * --shard K/N); or the study from the parts of a sharded run (`merge`, xbar merge), which reuses
 * the shared steps the parts hold and takes every chip from them.
 */
type Mode = { kind: 'run' } | { kind: 'prepare' } | { kind: 'shard'; shard: Shard } | { kind: 'merge'; parts: PartIn[] };

/**
 * CorrectNet in the run folder --out: every step is cached in it by a key of its inputs'
 * checksums and options, so an interrupted run resumes and a re-run with other options
 * recomputes exactly what they change (steps are also looked up in the `reuse` folders); the
 * folder is replaced whole at the end.
 */
async function inCorrectnetFolder(o: CorrectnetOptions, mode: Mode, kernels: Kernels, progress: Progress, reuse: string[]) {
  if (o.shard && o.prepare)
    throw new XbarError('--prepare computes the steps every shard shares and --shard runs one share of the chips: give one of them');
  // Where the steps come from changes none of them: --reuse is no part of the run's identity.
  const {
    quiet: _q,
    json: _j,
    kernels: _k,
    threads: _t,
    workers: _w,
    reuse: _r,
    ...key
  } = o as CorrectnetOptions & Record<string, unknown>;
  const run = new RunFolder({ out: o.out, command: 'correctnet', key, inputs: [o.model, o.dataDir, ...reuse], resumable: true, reuse });
  if (run.resumed) progress.log(`resuming the interrupted run in ${run.dir}`);
  try {
    const result = await correctnetIn(run, o, kernels, progress, mode);
    run.commit();
    return result;
  } catch (e) {
    // Kept: a run of the same options resumes from its steps; another run reuses what still fits.
    run.abandon();
    throw e;
  }
}

const reuseOf = (o: CorrectnetOptions) => (o.reuse ? [o.reuse] : []);

/** CorrectNet end to end into the run folder --out: results.json, table.md, rl-curve.csv, the networks. */
export async function runCorrectnet(o: CorrectnetOptions, kernels: Kernels, progress: Progress) {
  const r = await inCorrectnetFolder(o, { kind: 'run' }, kernels, progress, reuseOf(o));
  if (r.kind !== 'results') throw new Error('correctnet: a whole run ended without results');
  return r.result;
}

/**
 * `--prepare`: the steps every shard shares (the networks, placement and compensation; the plain
 * network's sweep when it chooses the target sigma; the calibrated modules' placement), into the
 * run folder --out with prepared.json; the shards take them with --reuse.
 */
export async function prepareCorrectnet(o: CorrectnetOptions, kernels: Kernels, progress: Progress) {
  const r = await inCorrectnetFolder({ ...o, prepare: true }, { kind: 'prepare' }, kernels, progress, reuseOf(o));
  if (r.kind !== 'prepared') throw new Error('correctnet --prepare ended without its record');
  return r.prepared;
}

/** `--shard K/N`: the shared steps (reused or computed), then this shard's chips, as a part in --out. */
export async function correctnetShard(o: CorrectnetOptions & { shard: Shard }, kernels: Kernels, progress: Progress) {
  const r = await inCorrectnetFolder(o, { kind: 'shard', shard: o.shard }, kernels, progress, reuseOf(o));
  if (r.kind !== 'part') throw new Error('correctnet --shard ended without its part');
  return r;
}

/**
 * xbar merge of correctnet's parts (checked by loadParts: shards 1..N of one run): the study run
 * again into --out with every shared step taken from the parts' folders and every chip from their
 * data, so that its files are the unsharded run's, written by the same code.
 */
export async function mergeCorrectnetParts(parts: PartIn[], out: string, progress: Progress) {
  const config = parts[0].part.config;
  const o = { ...config, out } as unknown as CorrectnetOptions;
  const kernels = loadKernels({ prefer: config.kernels as 'native' | 'js' | undefined });
  const r = await inCorrectnetFolder(
    o,
    { kind: 'merge', parts },
    kernels,
    progress,
    parts.map((p) => p.dir),
  );
  if (r.kind !== 'results') throw new Error('correctnet merge ended without results');
  return r.result;
}

async function correctnetIn(run: RunFolder, o: CorrectnetOptions, kernels: Kernels, progress: Progress, mode: Mode) {
  const t0 = performance.now();
  // Paths recorded in the results name where the run ends, not its staging folder.
  const finalPath = (p: string) => (p.startsWith(run.dir) ? join(o.out, relative(run.dir, p)) : p);
  const sigmas = parseList(o.sigmas, 'sigmas', 0);
  const wholeRanks = (list: string, flag: string) =>
    parseList(list, flag.slice(2), 0).map((r) => {
      if (!Number.isInteger(r)) throw new XbarError(`${flag} must be whole numbers, got ${r}`);
      return r;
    });
  const ranks = wholeRanks(o.ranks, '--ranks');
  const calibrateRanks = o.calibrateRanks === undefined ? ranks : wholeRanks(o.calibrateRanks, '--calibrate-ranks');
  const searches = o.search
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of searches)
    if (!['rl', 'greedy', 'exhaustive'].includes(s)) throw new XbarError(`--search '${s}' is unknown: use rl, greedy and/or exhaustive`);
  if (!searches.includes('rl')) throw new XbarError('--search must include rl: the compensation sites are the ones the agent chooses');
  const givenTarget = o.targetSigma === 'auto' ? null : Number(o.targetSigma);
  if (givenTarget !== null && !(givenTarget >= 0))
    throw new XbarError(`--target-sigma must be 'auto' or a number >= 0, got '${o.targetSigma}'`);
  const deviceAt = (sigma: number, readNoise = o.readNoise ?? 0): Device =>
    resolveDevice(o.device, { programSigma: sigma, readNoise }, `device ${o.device}`);
  deviceAt(0);
  const calibrate =
    o.calibrate === undefined
      ? []
      : o.calibrate.split(',').map((t) => {
          const n = Number(t.trim());
          if (!(Number.isInteger(n) && n >= 1))
            throw new XbarError(`--calibrate '${o.calibrate}' must list whole numbers >= 1 of images per chip, e.g. 250,1000,5000`);
          return n;
        });
  const calibrateChips = o.calibrateChips ?? o.chips;
  if (!(calibrationLosses as readonly string[]).includes(o.calibrateLoss))
    throw new XbarError(`--calibrate-loss '${o.calibrateLoss}' must be ce (labels) or kd (distil the clean network)`);
  const calibrateLoss = o.calibrateLoss as CalibrationLoss;
  // Only a non-default loss goes into the cache keys, so runs made before it existed are reused.
  const lossKey = calibrateLoss === 'ce' ? {} : { loss: calibrateLoss };
  const calibrateBases = [...new Set(o.calibrateBases.split(',').map((t) => t.trim()))];
  if (!calibrateBases.length || calibrateBases.some((b) => b !== 'plain' && b !== 'lipschitz'))
    throw new XbarError(`--calibrate-bases '${o.calibrateBases}' must list plain and/or lipschitz, e.g. plain,lipschitz`);
  const calibrateBaseNames = (['plain', 'lipschitz'] as const).filter((b) => calibrateBases.includes(b));
  // The chip evaluations a shard takes its share of (correctnet-part.ts); in a merge, the parts'
  // chips put together, checked against it before any other work.
  const work: CorrectnetWork = {
    sweepMethods: METHODS.filter((m) => givenTarget !== null || m !== 'plain'),
    sigmas,
    chips: o.chips,
    columns: calibrateBaseNames.flatMap((b) => calibrate.map((n) => `${b}+cal${n}`)),
    calibrateChips,
  };
  const merged =
    mode.kind === 'merge'
      ? assembleCorrectnet(
          mode.parts.map(({ dir, part }) => ({ dir, shard: part.shard, data: part.data })),
          work,
        )
      : null;
  if (mode.kind === 'merge') progress.log(`merging ${mode.parts.length} shards; the shared steps from ${mode.parts[0].dir}`);

  // 1. The plain network: a saved model folder, or trained here from a preset / spec.
  const fromDir = existsSync(join(o.model, 'model.json'));
  let modelArg = o.model;
  let datasetName = o.dataset;
  let plainDir = run.path('plain');
  let plainSeed = o.seed;
  if (fromDir) {
    const { model, file } = loadModel(o.model);
    plainDir = o.model;
    datasetName ??= typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined;
    if (typeof file.meta.seed === 'number') plainSeed = file.meta.seed;
    const preset = typeof file.meta.model === 'string' && presets[file.meta.model] ? file.meta.model : null;
    if (preset && JSON.stringify(presets[preset].spec) === JSON.stringify(model.spec)) modelArg = preset;
    else {
      modelArg = run.path('spec.json');
      run.write('spec.json', `${JSON.stringify(model.spec, null, 2)}\n`);
    }
  } else {
    const { preset } = resolveModel(o.model);
    datasetName ??= preset?.dataset;
  }
  if (!datasetName) throw new XbarError('--dataset is required with a model spec file');
  const ds: Dataset = loadDataset(datasetName, { dataDir: o.dataDir, limitTrain: o.limitTrain, limitTest: o.limitTest });
  // Before the first epoch or chip: the training and the chips on their workers must each fit.
  const spec = resolveModel(modelArg).spec;
  const memory = availableMemory();
  const fix = 'use fewer --workers, --limit-train, or a smaller model';
  const training = trainingMemory(spec, 128, ds.train.n + ds.test.n);
  if (training) checkFits(training, memory, `training ${o.model}`, fix);
  const chips = chipMemory(spec, { workers: Math.min(o.workers ?? availableParallelism(), o.chips), images: ds.test.n });
  if (chips) checkFits(chips, memory, `simulating ${o.model}'s chips`, fix);
  const trainOpts = {
    model: modelArg,
    dataset: datasetName,
    dataDir: o.dataDir,
    limitTrain: o.limitTrain,
    limitTest: o.limitTest,
    seed: plainSeed,
    valFraction: 0.1,
  };
  // What every step's result depends on besides its own options: the images (their checksum) and
  // the device. Folded into every cache key so that a re-run with other data or device recomputes.
  const context = { data: datasetId(ds), device: deviceAt(0) };
  /**
   * A network trained into `dir` (plain, noise-injection, Lipschitz), reused only when
   * steps/model-<label>.json says it was trained with the same key (the options, the data and the
   * checksum of the network it starts from) and `dir` still holds the network it recorded.
   */
  const loadOrTrain = (rel: string, label: string, extra: Record<string, unknown>): Model => {
    const key = {
      ...context,
      spec: resolveModel(trainOpts.model).spec,
      train: { ...trainOpts, ...extra, model: undefined, init: undefined },
      init: typeof extra.init === 'string' ? modelId(extra.init) : null,
    };
    return keptOrTrained(run, rel, label, key, progress, (dir) => {
      progress.log(`${label}: training into ${finalPath(dir)}`);
      return trainInto({ ...trainOpts, ...extra }, dir, kernels, progress).model;
    });
  };
  // The validation split the plain model was trained without (same seed as xbar train).
  const { trainSplit, val, valSet, rails } = correctnetImages(ds, plainSeed, o.valImages);
  if (o.calibrateSearch !== undefined && !calibrate.length)
    throw new XbarError('--calibrate-search places the modules of --calibrate: give --calibrate too');
  for (const [flag, v] of [
    ['--calibrate-search-epochs', o.calibrateSearchEpochs],
    ['--calibrate-search-chips', o.calibrateSearchChips],
    ['--calibrate-search-episodes', o.calibrateSearchEpisodes],
    ['--calibrate-search-remeasure', o.calibrateSearchRemeasure],
  ] as const)
    if (v !== undefined && o.calibrateSearch === undefined)
      throw new XbarError(`${flag} sets the search of --calibrate-search: give --calibrate-search too`);
  for (const n of [...calibrate, ...(o.calibrateSearch === undefined ? [] : [o.calibrateSearch])])
    if (n > trainSplit.n)
      throw new XbarError(`--calibrate ${n} is more than the ${trainSplit.n} training images (the validation split is held out)`);
  const plain = fromDir ? loadModel(plainDir).model : loadOrTrain('plain', 'plain', { epochs: o.plainEpochs });
  const circuit = resolveCircuit({});

  /**
   * The chips `chips` of one sweep point (all of them, or a shard's block), in order: chip i is
   * drawn from (seed, i), so it is the same chip in any shard. With neither variation nor read
   * noise every chip is the same chip: one (chip 0) is simulated and counted for all.
   */
  const sweepChips = async (model: Model, plan: CrossbarPlan, label: string, sigma: number, chips: ItemRange) => {
    const device = deviceAt(sigma);
    progress.start(chips.count, `${label} sigma=${sigma}`);
    const workers = Math.min(o.workers ?? availableParallelism(), chips.count);
    const onChip = (_r: unknown, done: number) => progress.update(done);
    const same = !programVaries(device) && device.readNoise === 0;
    const cfg = same ? { chips: 1, seed: o.seed } : { chips: chips.count, seed: o.seed, firstChip: chips.first };
    const r =
      workers > 1 && !same
        ? await runMonteCarloParallel(model, plan, device, [], ds.test, cfg, {
            workers,
            kernels: kernels.name === 'js' ? 'js' : 'native',
            onChip,
          })
        : runMonteCarlo(model, plan, device, [], ds.test, cfg, kernels, { onChip });
    progress.stop();
    const accuracies: number[] = same ? Array(chips.count).fill(r.chips[0].accuracy) : r.chips.map((c) => c.accuracy);
    return { accuracies, seconds: r.seconds };
  };

  /** A network's sigma sweep over every chip: a cached step; in a merge, the parts' chips put together. */
  const sweep = async (model: Model, label: string, dir: string): Promise<SweepPoint[]> => {
    const key = {
      ...context,
      model: modelId(dir),
      sigmas,
      chips: o.chips,
      seed: o.seed,
      device: o.device,
      readNoise: o.readNoise ?? 0,
      test: ds.test.n,
    };
    const hit = run.lookup<SweepPoint[]>(`sweep-${label}`, key);
    if (hit) {
      progress.log(`sweep ${label}: reusing steps/sweep-${label}.json`);
      return hit;
    }
    const fromParts = merged?.sweeps.get(label);
    if (merged && !fromParts)
      throw new XbarError(`the parts hold no sweep of ${label}, and their steps no record of it: run the shards again`);
    const plan = fromParts ? null : planCrossbars(model, circuit, rails.x, rails.n, kernels);
    const points: SweepPoint[] = [];
    for (const [i, sigma] of sigmas.entries()) {
      const r = fromParts?.[i] ?? (await sweepChips(model, plan as CrossbarPlan, label, sigma, { first: 0, count: o.chips }));
      const summary = summarize(r.accuracies);
      progress.log(
        `${label} sigma=${sigma}: ${pct(summary.mean)} +- ${pct(summary.std)} over ${o.chips} chips (${r.seconds.toFixed(1)} s)`,
      );
      points.push({ sigma, summary, seconds: r.seconds, accuracies: r.accuracies });
    }
    run.store(`sweep-${label}`, key, points);
    return points;
  };

  // 2. Where the plain network collapses: the target sigma for training and compensation. With a
  // given target, --prepare and the shards leave the plain network's sweep to the shards.
  const plainSweep = givenTarget === null || mode.kind === 'run' || mode.kind === 'merge' ? await sweep(plain, 'plain', plainDir) : null;
  let targetSigma: number;
  let targetRule: string;
  if (plainSweep && givenTarget === null) {
    const below = plainSweep.find((p) => p.summary.mean < 0.2);
    targetSigma = below ? below.sigma : sigmas[sigmas.length - 1];
    targetRule = below ? 'smallest swept sigma where the plain network is below 20%' : 'plain network never below 20%: largest swept sigma';
  } else {
    targetSigma = givenTarget as number;
    targetRule = 'given';
  }
  progress.log(`target sigma ${targetSigma} (${targetRule})`);
  const target = deviceAt(targetSigma, 0);
  // What the modules cost on the chip (energy, latency, area per inference; docs/cost.md).
  const costCtx = recoveryContext(circuit, target, rails, kernels, loadTech(o.tech));
  const noiseSigma = o.noiseSigma ?? targetSigma;

  // 3. Noise-injection and Lipschitz fine-tuning from the plain network.
  const ft = { init: plainDir, epochs: o.finetuneEpochs };
  const noiseDir = run.path('noise');
  const noise = loadOrTrain('noise', 'noise-injection', {
    ...ft,
    noiseSigma,
    noiseReadNoise: o.readNoise,
    noiseDevice: o.device,
    noiseRamp: o.noiseRamp || undefined,
    noiseRails: o.noiseRails,
  });
  const lipDir = run.path('lipschitz');
  const lipschitz = loadOrTrain('lipschitz', 'lipschitz', {
    ...ft,
    lipschitz: o.lipschitz,
    lambda: o.lambda,
    lipschitzBound: o.lipschitzBound,
  });

  // 4. Error suppression, measured: spectral norms and per-layer amplification under variation.
  const ampImages = head(val, Math.min(500, o.valImages));
  const amplification = cached(
    run,
    'amplification',
    { ...context, models: [plainDir, lipDir, noiseDir].map(modelId), sigma: targetSigma, n: ampImages.n, seed: o.seed },
    progress,
    () => {
      const out: Record<string, { spectralNorms: number[]; layers: LayerAmplification[] }> = {};
      for (const [name, m] of [
        ['plain', plain],
        ['lipschitz', lipschitz],
        ['noise', noise],
      ] as const) {
        progress.log(`amplification: ${name}`);
        out[name] = { spectralNorms: layerSpectralNorms(m), layers: errorAmplification(m, ampImages, target, 10, o.seed + 7, kernels) };
      }
      return out;
    },
  );

  // 5. Layer sensitivity and compensation placement on the Lipschitz network.
  const sensitivity = cached(
    run,
    'sensitivity',
    { ...context, model: modelId(lipDir), sigma: targetSigma, n: valSet.n, chips: o.searchChips, seed: o.seed },
    progress,
    () => {
      progress.log('sensitivity: one layer varied at a time');
      return layerSensitivity(lipschitz, valSet, target, o.searchChips, o.seed + 11, kernels, rails);
    },
  );
  // The modules' overhead in energy or latency per inference instead of parameters (--overhead-measure).
  const overhead = o.overheadMeasure && o.overheadMeasure !== 'params' ? siteOverhead(lipschitz, o.overheadMeasure, costCtx) : undefined;
  const setup: PlacementSetup = {
    base: lipschitz,
    train: head(trainSplit, o.searchTrain),
    val: valSet,
    device: target,
    ranks,
    kernel: o.compKernel,
    budget: o.budget,
    overheadWeight: o.overheadWeight,
    epochs: o.searchEpochs,
    batchSize: 128,
    lr: o.compLr,
    chips: o.searchChips,
    seed: o.seed + 13,
    sensitivity,
    calib: rails,
    overhead,
  };
  const placementKey = {
    ...context,
    model: modelId(lipDir),
    sigma: targetSigma,
    ranks,
    kernel: o.compKernel,
    budget: o.budget,
    w: o.overheadWeight,
    om: overhead ? o.overheadMeasure : undefined,
    searches,
    episodes: o.episodes,
    // Left out at their defaults so that the keys of runs made before these options still match.
    batch: o.rlBatch === REINFORCE_DEFAULTS.batch ? undefined : o.rlBatch,
    rlLr: o.rlLr === REINFORCE_DEFAULTS.lr ? undefined : o.rlLr,
    st: setup.train.n,
    se: o.searchEpochs,
    sc: o.searchChips,
    v: valSet.n,
    lr: o.compLr,
    seed: o.seed,
  };
  const logEvaluation = (config: number[], acc: number, s: number) =>
    progress.log(`  evaluated [${config.join(' ')}]: ${pct(acc)} (${s.toFixed(1)} s)`);
  const placement = await cachedAsync(run, 'placement', placementKey, progress, () =>
    runSearches(
      journaled(compensationPlacementProblem(setup, kernels, logEvaluation), run, 'placement', placementKey, progress),
      searches,
      o,
      progress,
    ),
  );
  const rl = placement.results.rl as RlResult;
  const sites = configSites(setup, rl.best.config);
  progress.log(
    `placement: RL chose [${rl.best.config.map((a) => placement.actions[a]).join(', ')}] (${pct(rl.best.accuracy)} on validation chips, ${rl.evaluations} evaluations)`,
  );

  // 6. Compensation modules at the chosen sites, trained under variation on the full training set.
  const compensate = (base: Model, baseDir: string, rel: string, label: string): Model => {
    const cfg = { epochs: o.compEpochs, batchSize: 128, lr: o.compLr, device: target, seed: o.seed + 23 };
    const key = {
      ...context,
      base: modelId(baseDir),
      sites,
      training: cfg,
      init: o.seed + 19,
      selection: { images: valSet.n, chips: o.searchChips, seed: o.seed + 29 },
      train: trainSplit.n,
    };
    return keptOrTrained(run, rel, label, key, progress, (dir) => trainCompensated(base, baseDir, dir, label, cfg));
  };
  const trainCompensated = (
    base: Model,
    baseDir: string,
    dir: string,
    label: string,
    cfg: { epochs: number; batchSize: number; lr: number; device: Device; seed: number },
  ): Model => {
    progress.log(`${label}: training compensation at ${JSON.stringify(sites)}`);
    const m = withCompensation(base, sites, o.seed + 19);
    if (!sites.length) {
      saveModel(dir, m, { xbarVersion: VERSION, base: finalPath(baseDir), compensation: { sites: [] } });
      return m;
    }
    // Keep the epoch (0 = the untrained identity modules) with the best mean accuracy on the
    // validation images over the placement's software chips at the target sigma (with rails:
    // the simulator's chips), so that compensation never ends worse than none on validation.
    const comp = m.params.filter((p) => p.name.startsWith('comp'));
    const valAcc = () => mean(softwareChipAccuracy(m, valSet, target, o.searchChips, o.seed + 29, kernels, { calib: rails }));
    let best = { epoch: 0, accuracy: valAcc(), weights: comp.map((p) => Float32Array.from(p.value)) };
    const perEpoch = [best.accuracy];
    const history = trainCompensation(m, trainSplit, null, cfg, kernels, {
      onEpochStart: (e, steps) => progress.start(steps, `${label} epoch ${e}/${o.compEpochs}`),
      onBatch: (d, _t, loss) => progress.update(d, `loss ${loss.toFixed(3)}`),
      onEpoch: (s) => {
        progress.stop();
        const acc = valAcc();
        perEpoch.push(acc);
        if (acc > best.accuracy) best = { epoch: s.epoch, accuracy: acc, weights: comp.map((p) => Float32Array.from(p.value)) };
        progress.log(
          `${label} epoch ${s.epoch}: loss under variation ${s.loss.toFixed(4)}, train accuracy under variation ${pct(s.trainAccuracy)}, validation chips ${pct(acc)}`,
        );
      },
    });
    comp.forEach((p, i) => {
      p.value.set(best.weights[i]);
    });
    progress.log(`${label}: keeping epoch ${best.epoch} (${pct(best.accuracy)} on validation chips)`);
    saveModel(dir, m, {
      xbarVersion: VERSION,
      createdAt: new Date().toISOString(),
      model: modelArg,
      dataset: ds.name,
      base: finalPath(baseDir),
      compensation: {
        sites,
        training: { ...cfg, device: undefined, sigma: targetSigma, deviceName: o.device },
        selection: { validationImages: valSet.n, chips: o.searchChips, seed: o.seed + 29, perEpoch, chosenEpoch: best.epoch },
        cost: compensationCost(m),
      },
      history,
      testAccuracy: evaluate(m, ds.test, kernels).accuracy,
    });
    return m;
  };
  const lipComp = compensate(lipschitz, lipDir, 'lipschitz-comp', 'lipschitz+comp');
  const noiseComp = compensate(noise, noiseDir, 'noise-comp', 'noise+comp');

  // The placement of the per-chip calibrated modules (--calibrate-search): shared by every chip,
  // so computed before any chip is calibrated (and by --prepare).
  // The placement searches over the calibrated modules: each evaluation calibrates the search chips.
  const searchEpochs = o.calibrateSearchEpochs ?? o.calibrateEpochs;
  const searchChips = o.calibrateSearchChips ?? o.searchChips;
  const searchEpisodes = o.calibrateSearchEpisodes ?? o.episodes;
  // The search's proxy (few images, few epochs) can rank configurations unlike the final
  // calibration: the RL search's best few are measured again with the final calibration's images
  // and epochs, on the first search chips and the validation images (never the test set).
  const remeasure = async (
    found: PlacementOutput,
    calSetup: Parameters<typeof calibrationPlacementProblem>[0],
    searchKey: Record<string, unknown>,
    count: number,
  ) => {
    const rl = found.results.rl as RlResult;
    // The history holds each configuration once (the evaluator's order of first evaluation).
    const candidates = [...rl.history].sort((a, b) => b.reward - a.reward).slice(0, count);
    const images = Math.max(...calibrate);
    const chips = Math.min(2, calSetup.chips);
    const setup = { ...calSetup, data: head(trainSplit, images), epochs: o.calibrateEpochs, chips };
    const key = { ...searchKey, calibrate: images, epochs: o.calibrateEpochs, sc: chips, remeasure: true };
    const { runChips } = evaluationWorkers(o.workers, chips, kernels);
    progress.log(
      `re-measuring the RL search's best ${candidates.length} configurations: ${chips} chips calibrated on ${images} images for ${o.calibrateEpochs} epochs each`,
    );
    const problem = journaled(
      calibrationPlacementProblem(setup, kernels, logEvaluation, runChips),
      run,
      'calibration-remeasure',
      key,
      progress,
    );
    const measured = [];
    for (const c of candidates) {
      const accuracy = await problem.evaluate(c.config);
      measured.push({
        config: c.config,
        searchAccuracy: c.accuracy,
        accuracy,
        overhead: c.overhead,
        reward: accuracy - o.overheadWeight * c.overhead,
      });
    }
    const chosen = measured.reduce((a, b) => (b.reward > a.reward ? b : a)).config;
    return { chips, images, epochs: o.calibrateEpochs, candidates: measured, chosen };
  };
  const searchCalibrated = async (images: number) => {
    const calRanks = [...new Set([0, ...calibrateRanks])].sort((a, b) => a - b);
    const calSetup = calibrationSearchSetup(
      o,
      { base: lipschitz, ranks: calRanks, sensitivity, device: target, trainSplit, valSet, rails, overhead },
      { images, epochs: searchEpochs, chips: searchChips },
    );
    const key = {
      ...placementKey,
      episodes: searchEpisodes,
      sc: searchChips,
      ranks: calRanks,
      calibrate: images,
      epochs: searchEpochs,
      lr: o.calibrateLr,
      ...lossKey,
    };
    const { workers: searchWorkers, runChips } = evaluationWorkers(o.workers, searchChips, kernels);
    const found = await cachedAsync(run, 'calibration-placement', key, progress, () => {
      progress.log(
        `placement of calibrated modules: each evaluation calibrates ${searchChips} chips on ${images} images for ${searchEpochs} epochs${searchWorkers > 1 ? ` on ${searchWorkers} workers` : ''}`,
      );
      const problem = calibrationPlacementProblem(calSetup, kernels, logEvaluation, runChips);
      const journal = journaled(problem, run, 'calibration-placement', key, progress);
      return runSearches(journal, searches, { ...o, episodes: searchEpisodes }, progress);
    });
    const remeasured = o.calibrateSearchRemeasure ? await remeasure(found, calSetup, key, o.calibrateSearchRemeasure) : undefined;
    const best = remeasured?.chosen ?? (found.results.rl as RlResult).best.config;
    const chosen = configSites(calSetup, best);
    if (!chosen.length)
      throw new XbarError('the placement search put no calibrated module anywhere: raise --budget or lower --overhead-weight');
    return {
      ...found,
      chosen: { config: best, sites: chosen },
      remeasured,
      problem: {
        ranks: calRanks,
        kernel: o.compKernel,
        budget: o.budget,
        overheadWeight: o.overheadWeight,
        calibrationImages: images,
        epochs: searchEpochs,
        episodes: searchEpisodes,
        chips: searchChips,
        valImages: valSet.n,
      },
    };
  };
  const calibrationPlacement = calibrate.length && o.calibrateSearch !== undefined ? await searchCalibrated(o.calibrateSearch) : null;
  const calSites = calibrate.length
    ? (calibrationPlacement?.chosen.sites ?? calibrationSites(lipschitz, calibrateRanks, o.compKernel, o.budget))
    : [];

  // Per-chip calibration of modules at `calSites` on a base network, for chips
  // 0..calibrateChips-1 at the target sigma: each chip's modules are fine-tuned on `n` training
  // images measured through it, its rails measured on it, then the chip is run by the crossbar
  // simulator (the same chip: seed and index) with its modules and rails. Column <base>+cal<n>.
  const columns: Column[] = calibrateBaseNames.flatMap((baseName) =>
    calibrate.map((n) => ({
      method: `${baseName}+cal${n}` as Method,
      baseName,
      base: baseName === 'plain' ? plain : lipschitz,
      baseDir: baseName === 'plain' ? plainDir : lipDir,
      n,
    })),
  );
  const calibrationOf = (col: Column) => {
    const cfg = { epochs: o.calibrateEpochs, batchSize: 64, lr: o.calibrateLr };
    const key = {
      ...context,
      model: modelId(col.baseDir),
      sites: calSites,
      n: col.n,
      ...cfg,
      ...lossKey,
      chips: calibrateChips,
      seed: o.seed,
      sigma: targetSigma,
      device: o.device,
      test: ds.test.n,
    };
    return {
      data: head(trainSplit, col.n),
      cfg,
      key,
      // Chip c's calibration: the same for the serial loop, the workers and any shard.
      chipCfg: { ...cfg, device: target, seed: o.seed, trainSeed: o.seed + 37, rails, loss: calibrateLoss },
      chipName: (c: number) => `calibrate-${col.method}-chip${c}`,
      // A chip's result does not depend on how many chips the column has: more chips reuse the first.
      chipKey: (c: number) => ({ ...key, chips: undefined, chip: c }),
    };
  };
  /**
   * The calibrated chips `chips` of a column (all of them, or a shard's block), in that order.
   * Each is cached on its own as it ends, so that a long calibration (minutes per chip on a large
   * network) resumes where it stopped; the chips not cached yet go to worker threads when there
   * are two or more workers.
   */
  const calibrateChipList = async (col: Column, chips: number[]): Promise<CalibratedChipResult[]> => {
    const { data, chipCfg, chipName, chipKey } = calibrationOf(col);
    const label = `${col.method} sigma=${targetSigma}`;
    const missing = chips.filter((c) => run.lookup(chipName(c), chipKey(c)) === undefined);
    const workers = Math.min(o.workers ?? availableParallelism(), missing.length);
    if (workers > 1) {
      progress.log(`${label}: calibrating ${missing.length} chips on ${workers} workers`);
      progress.start(missing.length, label);
      let done = 0;
      await calibrateChipsParallel(withCompensation(col.base, calSites, o.seed + 31), data, chipCfg, circuit, ds.test, missing, {
        workers,
        kernels: kernels.name === 'js' ? 'js' : 'native',
        onChip: (r) => {
          run.store(chipName(r.chip), chipKey(r.chip), r);
          progress.update(++done, `chip ${r.chip}: ${pct(r.accuracy)}`);
        },
      });
      progress.stop();
    }
    const silent = makeProgress(true);
    const results: CalibratedChipResult[] = [];
    progress.start(chips.length, label);
    for (const c of chips) {
      results.push(
        cached(run, chipName(c), chipKey(c), silent, () =>
          calibrateAndSimulate(withCompensation(col.base, calSites, o.seed + 31), data, chipConfig(chipCfg, c), circuit, ds.test, kernels),
        ),
      );
      progress.update(results.length, `${pct(mean(results.map((r) => r.accuracy)))}`);
    }
    progress.stop();
    return results;
  };
  const calibratedColumn = async (col: Column): Promise<MethodResult> => {
    const { cfg, key, chipName, chipKey } = calibrationOf(col);
    // Merging shards: their chips are recorded as the unsharded run records them, then read back.
    if (merged && run.lookup(`calibrate-${col.method}`, key) === undefined)
      for (const r of merged.calibrated.get(col.method) ?? []) run.store(chipName(r.chip), chipKey(r.chip), r);
    const value = await cachedAsync(run, `calibrate-${col.method}`, key, progress, async () => {
      const chips = await calibrateChipList(
        col,
        Array.from({ length: calibrateChips }, (_, c) => c),
      );
      let calSeconds = 0;
      let simSeconds = 0;
      for (const r of chips) {
        calSeconds += r.calSeconds;
        simSeconds += r.simSeconds;
      }
      return { accuracies: chips.map((r) => r.accuracy), secondsPerChip: calSeconds / calibrateChips, simSeconds };
    });
    const summary = summarize(value.accuracies);
    progress.log(
      `${col.method} sigma=${targetSigma}: ${pct(summary.mean)} +- ${pct(summary.std)} over ${calibrateChips} chips (calibration ${value.secondsPerChip.toFixed(1)} s per chip)`,
    );
    const cost = compensationCost(withCompensation(col.base, calSites));
    return {
      method: col.method,
      dir: finalPath(col.baseDir),
      cleanAccuracy: Number.NaN,
      parameters: networkCost(col.base).params + cost.params,
      compensation: cost,
      hardwareCost: compensationRecoveryCost(withCompensation(col.base, calSites), costCtx),
      sweep: [{ sigma: targetSigma, summary, seconds: value.simSeconds, accuracies: value.accuracies }],
      calibration: {
        images: col.n,
        loss: calibrateLoss,
        ...cfg,
        sites: calSites,
        chips: calibrateChips,
        secondsPerChip: value.secondsPerChip,
      },
    };
  };
  const models: [Method, Model, string][] = [
    ['plain', plain, plainDir],
    ['noise', noise, noiseDir],
    ['lipschitz', lipschitz, lipDir],
    ['lipschitz+comp', lipComp, run.path('lipschitz-comp')],
    ['noise+comp', noiseComp, run.path('noise-comp')],
  ];

  // What the shards of one run must share: the networks every chip runs, the target sigma and the
  // modules' sites. A part records their checksums, so parts of other shared steps are refused.
  const shared = (): Record<string, string> => ({
    data: context.data,
    ...Object.fromEntries(models.map(([method, , dir]) => [`${method} network`, modelId(dir)])),
    'shared steps': checksum(JSON.stringify({ targetSigma, sites, calSites })),
  });
  if (mode.kind === 'prepare') {
    const prepared = {
      format: 'xbar-correctnet-prepared',
      version: 1,
      xbarVersion: VERSION,
      createdAt: new Date().toISOString(),
      options: { ...studyConfig(o), out: o.out },
      targetSigma,
      targetRule,
      sites,
      calibrationSites: calSites,
      inputs: shared(),
    };
    run.write('prepared.json', `${JSON.stringify(prepared, null, 1)}\n`);
    progress.log(`prepared the shared steps in ${o.out}: run the shards with --reuse ${o.out}`);
    return { kind: 'prepared' as const, prepared };
  }
  if (mode.kind === 'shard') {
    const share = shardWork(work, mode.shard);
    const byMethod = new Map(models.map(([method, m]) => [method as string, m]));
    const plans = new Map<string, CrossbarPlan>();
    const sweeps: CorrectnetPartData['sweeps'] = [];
    for (const p of share.points) {
      const m = byMethod.get(p.method) as Model;
      if (!plans.has(p.method)) plans.set(p.method, planCrossbars(m, circuit, rails.x, rails.n, kernels));
      const r = await sweepChips(m, plans.get(p.method) as CrossbarPlan, p.method, p.sigma, p.chips);
      sweeps.push({ method: p.method, sigma: p.sigma, first: p.chips.first, ...r });
    }
    const calibratedChips: CorrectnetPartData['calibrated'] = [];
    for (const c of share.columns) {
      const col = columns.find((x) => x.method === c.method) as Column;
      const chips = await calibrateChipList(
        col,
        Array.from({ length: c.chips.count }, (_, i) => c.chips.first + i),
      );
      calibratedChips.push({ method: c.method, chips });
    }
    const data: CorrectnetPartData = { targetSigma, sweeps, calibrated: calibratedChips };
    const header = {
      command: 'correctnet',
      config: studyConfig(o),
      inputs: shared(),
      seed: o.seed,
      shard: mode.shard,
      items: share.sweep,
      blocks: { calibration: share.calibration },
    };
    const part = makePart(header, data);
    run.write(PART_FILE, `${JSON.stringify(part)}\n`);
    return { kind: 'part' as const, part, share };
  }
  if (mode.kind === 'merge') {
    const made = mode.parts[0].part.inputs;
    const here = shared();
    for (const k of Object.keys(here))
      if (made[k] !== here[k])
        throw new XbarError(
          `the parts were made with another ${k} than the one their steps hold (${mode.parts[0].dir}): run the shards again`,
        );
  }
  // 7. The table: every method over the sigma sweep, on the test set, with the crossbar simulator.
  const methods: MethodResult[] = [];
  for (const [method, m, dir] of models) {
    const points = method === 'plain' && plainSweep ? plainSweep : await sweep(m, method, dir);
    const hasComp = sitesOf(m).length > 0;
    methods.push({
      method,
      dir: finalPath(dir),
      cleanAccuracy: evaluate(m, ds.test, kernels).accuracy,
      parameters: networkCost(m).params + (hasComp ? compensationCost(m).params : 0),
      compensation: hasComp ? compensationCost(m) : null,
      hardwareCost: hasComp ? compensationRecoveryCost(m, costCtx) : null,
      sweep: points,
    });
  }

  // 8. Per-chip calibration (--calibrate): modules fine-tuned on each chip, after every layer by
  // the budget rule, or where the placement searches put them (--calibrate-search).
  const calibrated: { method: Method; base: string; images: number }[] = [];
  if (columns.length) progress.log(`per-chip calibration at sigma ${targetSigma}, modules ${JSON.stringify(calSites)}`);
  for (const col of columns) {
    methods.push(await calibratedColumn(col));
    calibrated.push({ method: col.method, base: col.baseName, images: col.n });
  }
  const clean = methods[0].cleanAccuracy;
  const at = (method: Method) =>
    methods.find((m) => m.method === method)?.sweep.find((p) => p.sigma === targetSigma)?.summary.mean ?? Number.NaN;
  const headline = {
    targetSigma,
    targetRule,
    plainClean: clean,
    plainAtTarget: at('plain'),
    lipschitzCompAtTarget: at('lipschitz+comp'),
    lipschitzCompShareOfClean: at('lipschitz+comp') / clean,
    noiseCompAtTarget: at('noise+comp'),
    noiseCompShareOfClean: at('noise+comp') / clean,
    compensationParamsShare: compensationCost(lipComp).paramsShare,
    compensationMacsShare: compensationCost(lipComp).macsShare,
    calibrated: calibrated.map((c) => {
      const m = methods.find((x) => x.method === c.method);
      return {
        method: c.method,
        base: c.base,
        images: c.images,
        atTarget: at(c.method),
        shareOfClean: at(c.method) / clean,
        paramsShare: m?.compensation?.paramsShare ?? Number.NaN,
        secondsPerChip: m?.calibration?.secondsPerChip ?? Number.NaN,
      };
    }),
  };
  const result = {
    format: 'xbar-correctnet',
    version: 1,
    xbarVersion: VERSION,
    createdAt: new Date().toISOString(),
    // The options that change a result (not where the work ran or how it printed) and --out.
    options: { ...(studyConfig(o) as Omit<CorrectnetOptions, 'workers' | 'shard' | 'prepare' | 'reuse'>), out: o.out },
    seeds: {
      chips: o.seed,
      plain: plainSeed,
      amplificationChips: o.seed + 7,
      sensitivityChips: o.seed + 11,
      placementChips: setup.seed + 1000,
      placementTraining: setup.seed,
      rl: o.seed + 17,
      compensationInit: o.seed + 19,
      compensationTraining: o.seed + 23,
      compensationSelectionChips: o.seed + 29,
      calibrationSearchChips: o.seed + 41,
    },
    dataset: ds.name,
    testImages: ds.test.n,
    device: deviceAt(targetSigma),
    headline,
    amplification,
    sensitivity,
    placement: {
      ...placement,
      chosen: { config: rl.best.config, sites },
      problem: {
        ranks,
        kernel: o.compKernel,
        budget: o.budget,
        overheadWeight: o.overheadWeight,
        trainImages: setup.train.n,
        epochs: o.searchEpochs,
        chips: o.searchChips,
        valImages: valSet.n,
      },
    },
    calibrationPlacement,
    methods,
    seconds: (performance.now() - t0) / 1000,
  };
  run.write('results.json', `${JSON.stringify(result, null, 1)}\n`);
  run.write('table.md', markdownTable(result));
  run.write('rl-curve.csv', rlCurveCsv(rl));
  if (calibrationPlacement) run.write('rl-curve-calibrated.csv', rlCurveCsv(calibrationPlacement.results.rl as RlResult));
  return { kind: 'results' as const, result };
}

interface PlacementOutput {
  actions: string[];
  costs: number[][];
  results: Record<string, SearchResult | RlResult>;
}

/** The placement searches asked for (RL always; greedy; exhaustive when small enough), sharing evaluations. */
async function runSearches(
  problem: PlacementProblem,
  searches: string[],
  o: Pick<CorrectnetOptions, 'episodes' | 'rlBatch' | 'rlLr' | 'seed' | 'maxExhaustive'>,
  progress: Progress,
): Promise<PlacementOutput> {
  const store = new Map();
  const results: Record<string, SearchResult | RlResult> = {};
  const nConfigs = problem.actions.length ** problem.sites.length;
  if (searches.includes('greedy')) {
    progress.log('placement: greedy sensitivity ranking');
    results.greedy = await greedyPlacement(problem, new Evaluator(problem, store));
  }
  progress.log('placement: reinforcement learning (REINFORCE)');
  results.rl = await reinforcePlacement(
    problem,
    { episodes: o.episodes, batch: o.rlBatch, lr: o.rlLr, seed: o.seed + 17 },
    new Evaluator(problem, store),
  );
  if (searches.includes('exhaustive')) {
    if (nConfigs <= o.maxExhaustive) {
      progress.log(`placement: exhaustive search over up to ${nConfigs} configurations`);
      results.exhaustive = await exhaustiveSearch(problem, new Evaluator(problem, store));
    } else progress.log(`placement: exhaustive search skipped (${nConfigs} configurations > --max-exhaustive ${o.maxExhaustive})`);
  }
  return { actions: problem.actions, costs: problem.sites.map((_, i) => problem.actions.map((_, a) => problem.cost(i, a))), results };
}

function rlCurveCsv(rl: RlResult): string {
  const lines = ['episode,mean_reward,best_reward,evaluations,greedy_probability,entropy'];
  for (const c of rl.curve) lines.push([c.episode, c.meanReward, c.bestReward, c.evaluations, c.greedyProbability, c.entropy].join(','));
  return `${lines.join('\n')}\n`;
}

type CorrectnetResult = Awaited<ReturnType<typeof runCorrectnet>>;

/** The sweep table (mean +- std over chips) and the placement comparison, as Markdown. */
export function markdownTable(r: CorrectnetResult): string {
  const lines: string[] = [];
  const sigmas = r.methods[0].sweep.map((p) => p.sigma);
  lines.push(`| sigma | ${r.methods.map((m) => m.method).join(' | ')} |`);
  lines.push(`|---|${r.methods.map(() => '---').join('|')}|`);
  lines.push(`| clean (software) | ${r.methods.map((m) => (Number.isFinite(m.cleanAccuracy) ? pct(m.cleanAccuracy) : '-')).join(' | ')} |`);
  for (const s of sigmas) {
    const cells = r.methods.map((m) => {
      const p = m.sweep.find((q) => q.sigma === s);
      return p ? `${pct(p.summary.mean)} +- ${pct(p.summary.std)}` : '';
    });
    lines.push(`| ${s}${s === r.headline.targetSigma ? ' (target)' : ''} | ${cells.join(' | ')} |`);
  }
  const chips = r.methods[0].sweep[0]?.summary.n ?? 0;
  lines.push('');
  const calChips = r.methods.find((m) => m.calibration)?.calibration?.chips;
  lines.push(
    `${chips} chips per cell${calChips !== undefined ? ` (+cal columns: ${calChips}, the first ones)` : ''}, ${r.testImages} test images, device ${r.options.device}.`,
  );
  const comp = r.methods.find((m) => m.method === 'lipschitz+comp')?.compensation;
  if (comp)
    lines.push(
      `Compensation overhead: ${comp.params} parameters (${pct(comp.paramsShare)} of the network), ${comp.macs} multiply-adds per image (${pct(comp.macsShare)})${hardwareText(r.methods.find((m) => m.method === 'lipschitz+comp')?.hardwareCost)}.`,
    );
  const h = r.headline;
  if (r.methods.some((m) => m.calibration))
    lines.push('Columns +cal<n>: per-chip calibration at the target sigma only (each chip gets its own modules; no clean value).');
  lines.push(
    `At the target sigma ${h.targetSigma} (${h.targetRule}): plain ${pct(h.plainAtTarget)}, lipschitz+comp ${pct(h.lipschitzCompAtTarget)} = ${pct(h.lipschitzCompShareOfClean)} of the plain network's clean ${pct(h.plainClean)}, noise+comp ${pct(h.noiseCompAtTarget)} = ${pct(h.noiseCompShareOfClean)}.`,
  );
  for (const m of r.methods) {
    const c = m.calibration;
    if (!c || !m.compensation) continue;
    const p = m.sweep[0];
    lines.push(
      `${m.method}: ${m.method.split('+')[0]} network with modules ${r.calibrationPlacement ? `placed by the RL search (below)${r.calibrationPlacement.remeasured ? ', its best re-measured' : ''}` : 'after every layer (budget rule)'} (${c.sites.map((s) => `layer ${s.layer} ${s.rank ? `rank ${s.rank}` : 'affine'}`).join(', ')}; ${m.compensation.params} parameters, ${pct(m.compensation.paramsShare)} of the network), fine-tuned on each chip with ${c.images} ${c.loss === 'kd' ? 'training images distilling the clean network (no labels)' : 'labelled training images'} (${c.epochs} epochs, lr ${c.lr}) and the chip's rails measured on it: ${pct(p.summary.mean)} +- ${pct(p.summary.std)} at sigma ${p.sigma} over ${c.chips} chips = ${pct(p.summary.mean / h.plainClean)} of the plain network's clean accuracy; ${c.secondsPerChip.toFixed(1)} s of calibration per chip.`,
    );
  }
  lines.push('');
  lines.push(`Error amplification at sigma ${h.targetSigma} (software chips, no rails), per weighted layer:`);
  lines.push('');
  lines.push('| model | layer | spectral norm | amplification | relative amplification | own error | output error |');
  lines.push('|---|---|---|---|---|---|---|');
  const f = (x: number | null) => (x === null ? '-' : x.toFixed(2));
  for (const [name, a] of Object.entries(r.amplification))
    for (const [k, l] of a.layers.entries())
      lines.push(
        `| ${name} | ${k} | ${a.spectralNorms[k].toFixed(2)} | ${f(l.amplification)} | ${f(l.relativeAmplification)} | ${f(l.ownError)} | ${f(l.outputError)} |`,
      );
  lines.push('');
  lines.push(
    `Sensitivity of the Lipschitz network (only one layer varied, sigma ${h.targetSigma}, validation chips): ${r.sensitivity.map((s) => `layer ${s.layer} ${pct(s.accuracy)} (drop ${pct(s.drop)})`).join(', ')}.`,
  );
  lines.push('');
  lines.push(...placementLines(r.placement, `trains its modules and measures ${r.placement.problem.chips} chips`));
  const cp = r.calibrationPlacement;
  if (cp) {
    lines.push('');
    lines.push(
      `Placement of the per-chip calibrated modules (each evaluation calibrates ${cp.problem.chips} chips on ${cp.problem.calibrationImages} training images and measures them on ${cp.problem.valImages} validation images):`,
    );
    lines.push('');
    lines.push(...placementLines(cp, `calibrates and measures ${cp.problem.chips} chips`));
    const rm = cp.remeasured;
    if (rm) {
      lines.push('');
      lines.push(
        `The RL search's best ${rm.candidates.length} configurations measured again (${rm.chips} search chips calibrated on ${rm.images} images for ${rm.epochs} epochs, validation images); the calibrated columns use the best:`,
      );
      lines.push('');
      lines.push('| configuration | search accuracy | re-measured accuracy | overhead (params) | reward |');
      lines.push('|---|---|---|---|---|');
      for (const c of rm.candidates)
        lines.push(
          `| ${c.config.map((a) => cp.actions[a]).join(', ')}${c.config.join() === rm.chosen.join() ? ' (chosen)' : ''} | ${pct(c.searchAccuracy)} | ${pct(c.accuracy)} | ${pct(c.overhead)} | ${c.reward.toFixed(4)} |`,
        );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A placement comparison (best configuration of each search, search cost) and the RL curve, as Markdown lines. */
function placementLines(p: PlacementOutput, evaluation: string): string[] {
  const lines = [
    '| placement | configuration | validation accuracy | overhead (params) | reward | evaluations | seconds |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const [name, s] of Object.entries(p.results))
    lines.push(
      `| ${name} | ${s.best.config.map((a) => p.actions[a]).join(', ')} | ${pct(s.best.accuracy)} | ${pct(s.best.overhead)} | ${s.best.reward.toFixed(4)} | ${s.evaluations} | ${s.seconds.toFixed(0)} |`,
    );
  const rl = p.results.rl as RlResult;
  const ex = p.results.exhaustive;
  lines.push('');
  lines.push(
    `Search cost = distinct configurations evaluated (each ${evaluation}); seconds are wall time with the evaluations shared between the searches, so a later search's time is lower than alone. ` +
      (ex
        ? `RL ${rl.best.config.join(',') === ex.best.config.join(',') ? 'found the exhaustive optimum' : `reached ${(rl.best.reward / ex.best.reward).toFixed(4)} of the exhaustive optimum's reward`} with ${rl.evaluations} of ${ex.evaluations} evaluations.`
        : `No exhaustive search (too many configurations).`),
  );
  lines.push('');
  lines.push(
    `RL training curve (every batch of ${rl.batch ?? REINFORCE_DEFAULTS.batch} episodes: mean reward of the sampled configurations, best so far, distinct evaluations, probability of the greedy configuration):`,
  );
  lines.push('');
  lines.push('| episode | mean reward | best reward | evaluations | greedy probability |');
  lines.push('|---|---|---|---|---|');
  for (const c of rl.curve)
    lines.push(
      `| ${c.episode} | ${c.meanReward.toFixed(4)} | ${c.bestReward.toFixed(4)} | ${c.evaluations} | ${c.greedyProbability.toFixed(3)} |`,
    );
  return lines;
}
