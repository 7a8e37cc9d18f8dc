import {
  type ChipNorm,
  type ChipResult,
  type CircuitInput,
  type CrossbarPlan,
  correctChip,
  correctorName,
  type Device,
  decodeIdx,
  decodeModel,
  downsampleDigits8,
  evaluate,
  evaluateChips,
  type FaultSpec,
  foldBatchNorm,
  fromIdx,
  generateVoltageSet,
  type HeldOutChip,
  jsKernels,
  type Model,
  type MonteCarloResult,
  makeEnv,
  makeProbes,
  networkCost,
  parseFaultSpec,
  planCrossbars,
  programChip,
  resolveCircuit,
  resolveDevice,
  resolvePopulation,
  runMonteCarlo,
  type SpatialPattern,
  type Split,
  type Summary,
  summarize,
  trainCorrector,
  XbarError,
} from '../../src/browser.js';
// Not in xbar's browser entry: the ONNX decoder needs protobufjs (CommonJS), which a bundler
// resolves (the page is bundled by esbuild) but a browser loading dist/browser.js as plain ES
// modules cannot (test/browser/simulator.test.ts).
import { importOnnx } from '../../src/onnx/import.js';
import type { Settings } from './settings.js';

/**
 * What the page's worker computes, as plain functions over bytes and settings (no DOM, no
 * worker API), so that Node runs them too and the tests compare them with the CLI directly.
 * Everything goes through xbar's browser entry with the portable JS kernels.
 */

export const kernels = jsKernels;

/** The four MNIST-format IDX files, raw (already gunzipped) bytes. */
export interface IdxBytes {
  trainImages: Uint8Array;
  trainLabels: Uint8Array;
  testImages: Uint8Array;
  testLabels: Uint8Array;
}

export interface Session {
  name: string;
  model: Model;
  dataset: string;
  /** The simulator's calibration images come from here (the first circuit.calibrationImages). */
  train: Split;
  test: Split;
  softwareAccuracy: number;
}

/** SHA-256 in hex of the weights, computed by the caller (WebCrypto in the page, node:crypto in Node). */
export function openSession(name: string, modelJson: string, weights: Uint8Array, weightsSha256: string, data: IdxBytes): Session {
  let header: unknown;
  try {
    header = JSON.parse(modelJson);
  } catch (e) {
    throw new XbarError(`${name}: model.json is not valid JSON (${(e as Error).message}): pick the model.json xbar train wrote`);
  }
  const { model, file } = decodeModel(header, weights, name, () => weightsSha256);
  const dataset = typeof file.meta.dataset === 'string' ? file.meta.dataset : '';
  if (dataset !== 'mnist' && dataset !== 'digits8')
    throw new XbarError(
      `${name} was trained on '${dataset || 'an unrecorded dataset'}', but the page ships MNIST digits only (mnist, digits8): use xbar simulate for it`,
    );
  return sessionOf(name, model, dataset, data);
}

/**
 * An .onnx file (from PyTorch, Keras, ...) imported as `xbar simulate --model file.onnx` does.
 * An ONNX file names no dataset: the page runs it on its MNIST images, so its input must take one
 * 28x28 grey image (the import refuses any other shape with the shape it found).
 */
export function openOnnxSession(name: string, bytes: Uint8Array, sha256: string, data: IdxBytes): Session {
  const { model } = importOnnx(bytes, sha256, { source: name, imageShape: [1, 28, 28] });
  if (model.outputSize !== 10)
    throw new XbarError(
      `${name} has ${model.outputSize} outputs, but the page's MNIST digits have 10 classes: use xbar simulate with its dataset`,
    );
  return sessionOf(name, model, 'mnist', data);
}

/** The crossbar maps the network with its batch norms folded into the layers before them, as `xbar simulate` does. */
function sessionOf(name: string, opened: Model, dataset: string, data: IdxBytes): Session {
  const model = foldBatchNorm(opened);
  let train = fromIdx(decodeIdx(data.trainImages, 'training images'), decodeIdx(data.trainLabels, 'training labels'), 'training slice');
  let test = fromIdx(decodeIdx(data.testImages, 'test images'), decodeIdx(data.testLabels, 'test labels'), 'test slice');
  if (dataset === 'digits8') {
    train = downsampleDigits8(train, 28, 28);
    test = downsampleDigits8(test, 28, 28);
  }
  const inSize = dataset === 'digits8' ? 64 : 784;
  if (model.inputSize !== inSize)
    throw new XbarError(
      `${name} takes ${model.inputSize} inputs, but its dataset ${dataset} has ${inSize} per image: the model file is inconsistent`,
    );
  return { name, model, dataset, train, test, softwareAccuracy: evaluate(model, test, kernels).accuracy };
}

export interface Hardware {
  device: Device;
  circuit: ReturnType<typeof resolveCircuit>;
  faults: FaultSpec;
  plan: CrossbarPlan;
}

/** The device, circuit, faults and crossbar plan of a setting, as `xbar simulate` makes them. */
export function hardwareOf(session: Session, s: Settings): Hardware {
  const overrides: Partial<Device> = {};
  if (s.sigma !== undefined) overrides.programSigma = s.sigma;
  if (s.readNoise !== undefined) overrides.readNoise = s.readNoise;
  if (s.levels !== undefined) overrides.levels = s.levels;
  const device = resolveDevice(s.device, overrides);
  const c: CircuitInput = {};
  if (s.arraySize !== undefined) {
    c.arrayRows = s.arraySize;
    c.arrayCols = s.arraySize;
  }
  if (s.dacBits !== undefined) c.dacBits = s.dacBits;
  if (s.adcBits !== undefined) c.adcBits = s.adcBits;
  const circuit = resolveCircuit(c);
  const faults = s.faults.trim() ? parseFaultSpec(s.faults.trim()) : [];
  const { model, train } = session;
  const nWeighted = weightedLayers(model);
  for (const f of faults)
    if (f.layers !== 'all')
      for (const l of f.layers)
        if (l >= nWeighted) throw new XbarError(`the faults name layer ${l}, but ${session.name} has weighted layers 0..${nWeighted - 1}`);
  const nCalib = Math.min(train.n, circuit.calibrationImages);
  const plan = planCrossbars(model, circuit, train.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);
  return { device, circuit, faults, plan };
}

export const weightedLayers = (model: Model): number =>
  model.layers.filter((l) => l.spec.type === 'dense' || l.spec.type === 'conv2d').length;

export interface SimulateProgress {
  chip: ChipResult;
  done: number;
  /** Confusion counts so far [true class * classes + predicted], over the finished chips. */
  confusion: Int32Array;
}

export interface Simulation {
  result: MonteCarloResult;
  /** Summed over all chips: row = true class, column = predicted class. */
  confusion: Int32Array;
  classes: number;
}

/**
 * `xbar simulate` of one setting on the session's test images: the same chips (chip i of seed s)
 * and the same accuracies, plus a confusion matrix, reported chip by chip.
 */
export function simulate(session: Session, hw: Hardware, s: Settings, onChip?: (p: SimulateProgress) => void): Simulation {
  const classes = session.model.outputSize;
  const { test } = session;
  const confusion = new Int32Array(classes * classes);
  // Per-chip counts until the chip is reported: chunks interleave chips over image batches.
  const pending = new Map<number, Int32Array>();
  const result = runMonteCarlo(
    session.model,
    hw.plan,
    hw.device,
    hw.faults,
    test,
    // Small chunks: the first chips report early; results do not depend on the chunking.
    { chips: s.chips, seed: s.seed, chipsPerChunk: 4 },
    kernels,
    {
      onPredictions: (chip, first, predicted, n) => {
        const m = pending.get(chip) ?? new Int32Array(classes * classes);
        pending.set(chip, m);
        for (let i = 0; i < n; i++) m[test.y[first + i] * classes + predicted[i]]++;
      },
      onChip: (r, done) => {
        const m = pending.get(r.chip);
        if (m) for (let i = 0; i < m.length; i++) confusion[i] += m[i];
        pending.delete(r.chip);
        onChip?.({ chip: r, done, confusion });
      },
    },
  );
  return { result, confusion, classes };
}

export interface LayerImpact {
  layer: number;
  /** Mean accuracy of the chips with only this layer's defects (variation and noise as set). */
  accuracy: number;
  /** Accuracy lost to this layer's defects: no-defect accuracy minus the above. */
  drop: number;
  arrays: number;
}

/**
 * Which layers' arrays hurt most: the first `chips` chips run once without defects and once per
 * faulty layer with only that layer's defects. A layer's defects are drawn from their own random
 * stream (seed, chip, layer), so they are the same cells as in the full run.
 */
export function layerImpact(session: Session, hw: Hardware, s: Settings, chips: number): { base: number; layers: LayerImpact[] } {
  const cfg = { chips: Math.min(chips, s.chips), seed: s.seed };
  const run = (faults: FaultSpec) => runMonteCarlo(session.model, hw.plan, hw.device, faults, session.test, cfg, kernels).summary.mean;
  const base = run([]);
  const layers: LayerImpact[] = [];
  hw.plan.layers.forEach((lp) => {
    const only = hw.faults
      .filter((g) => g.layers === 'all' || g.layers.includes(lp.weighted))
      .map((g) => ({ ...g, layers: [lp.weighted] }));
    if (!only.length) return;
    const accuracy = run(only);
    layers.push({ layer: lp.weighted, accuracy, drop: base - accuracy, arrays: lp.tiles.length });
  });
  return { base, layers };
}

/** Chip 0's stuck cells, every array of every weighted layer (kind codes as FaultMap.kind). */
export interface LayerMaps {
  layer: number;
  nIn: number;
  nOut: number;
  tiles: { r0: number; c0: number; rows: number; cols: number; kind: Uint8Array | null }[];
}

export function chipMaps(hw: Hardware, seed: number, chip = 0): LayerMaps[] {
  // Programming variation does not move a defect (separate streams): draw the maps without it.
  const programmed = programFaultsOnly(hw, seed, chip);
  return hw.plan.layers.map((lp, k) => ({
    layer: lp.weighted,
    nIn: lp.nIn,
    nOut: lp.nOut,
    tiles: lp.tiles.map((t, i) => {
      const m = programmed[k][i];
      return { r0: t.r0, c0: 2 * t.c0, rows: t.r1 - t.r0, cols: 2 * (t.c1 - t.c0), kind: m ? m.kind : null };
    }),
  }));
}

function programFaultsOnly(hw: Hardware, seed: number, chip: number) {
  const dev = { ...hw.device, programSigma: 0, readNoise: 0 };
  return programChip(hw.plan, dev, hw.faults, seed, chip).layers.map((l) => l.faults);
}

export interface CorrectorSettings {
  /** Defect types of the population the corrector learns from. */
  patterns: SpatialPattern[];
  layers: 'last' | 'all';
  trainChips: number;
  imagesPerChip: number;
  evalChips: number;
  hidden: number[];
  norm: ChipNorm;
  epochs: number;
}

export const correctorDefaults: CorrectorSettings = {
  patterns: ['circle', 'circle-complement', 'ring', 'rows', 'columns', 'checkerboard'],
  layers: 'last',
  trainChips: 60,
  imagesPerChip: 200,
  evalChips: 20,
  hidden: [64, 64],
  norm: 'calib',
  epochs: 10,
};

export interface CorrectorRun {
  name: string;
  parameters: number;
  trainSamples: number;
  trainSeconds: number;
  heldOut: HeldOutChip[];
  uncorrected: Summary;
  corrected: Summary;
}

export interface CorrectorProgress {
  phase: 'training chips' | 'training' | 'held-out chips';
  done: number;
  total: number;
  info: string;
}

/**
 * `xbar correct train` in small: training chips from a defect population, a corrector trained on
 * their output voltages, then held-out chips (the chips after the training ones) with and
 * without it, on the session's test images. Same streams and defaults as the CLI (probes: 200
 * unlabelled and 20 known images per chip, ridge 0.1; Adam lr 0.003, batch 256).
 */
export function trainAndEvaluateCorrector(
  session: Session,
  hw: Hardware,
  seed: number,
  c: CorrectorSettings,
  onProgress?: (p: CorrectorProgress) => void,
): CorrectorRun {
  const pop = resolvePopulation({ patterns: c.patterns, layers: c.layers }, 'corrector population');
  const env = makeEnv(session.model, hw.plan, hw.device, kernels, []);
  const probes = makeProbes(env, session.train, seed, { statsImages: 200, calibImages: 20, ridge: 0.1 });
  const set = generateVoltageSet(
    env,
    pop,
    probes,
    session.train,
    { seed, firstChip: 0, chips: c.trainChips, imagesPerChip: c.imagesPerChip },
    (r, done) =>
      onProgress?.({ phase: 'training chips', done, total: c.trainChips, info: `chip ${r.chip} ${r.type}: ${pct(r.uncorrected)}` }),
  );
  const t0 = performance.now();
  const shape = { hidden: c.hidden, norm: c.norm, calibImages: c.norm === 'calib' ? 20 : 0 };
  const t = trainCorrector(
    set,
    shape,
    { epochs: c.epochs, batchSize: 256, lr: 0.003, seed: seed + 100, valFraction: 0 },
    kernels,
    undefined,
    {
      onEpoch: (e) => onProgress?.({ phase: 'training', done: e.epoch, total: c.epochs, info: `loss ${e.loss.toFixed(3)}` }),
    },
  );
  const trainSeconds = (performance.now() - t0) / 1000;
  const heldOut = evaluateChips(
    env,
    pop,
    probes,
    session.test,
    { seed, firstChip: c.trainChips, chips: c.evalChips },
    [(f, n, chip) => correctChip(t.corrector, f, n, chip, kernels)],
    (r, done) =>
      onProgress?.({
        phase: 'held-out chips',
        done,
        total: c.evalChips,
        info: `chip ${r.chip} ${r.type}: ${pct(r.uncorrected)} -> ${pct(r.corrected[0] as number)}`,
      }),
  );
  return {
    name: correctorName(t.corrector),
    parameters: networkCost(t.corrector.model).parameters,
    trainSamples: t.samples,
    trainSeconds,
    heldOut,
    uncorrected: summarize(heldOut.map((h) => h.uncorrected)),
    corrected: summarize(heldOut.map((h) => h.corrected[0] as number)),
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
