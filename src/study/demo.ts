import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { programChip } from '../crossbar/chip.js';
import { type Circuit, resolveCircuit } from '../crossbar/circuit.js';
import { type ChipLayerMap, chipMaps } from '../crossbar/maps.js';
import { runMonteCarlo } from '../crossbar/montecarlo.js';
import { planCrossbars } from '../crossbar/plan.js';
import { type Summary, summarize } from '../crossbar/stats.js';
import type { Dataset, Split } from '../data/dataset.js';
import { type Device, resolveDevice } from '../device/config.js';
import {
  type CalibratedChipResult,
  type ChipCalibrationConfig,
  calibrateAndSimulate,
  calibrationSites,
  chipConfig,
} from '../mitigation/correctnet/calibration.js';
import { compensationCost, withCompensation } from '../mitigation/correctnet/compensation.js';
import { head } from '../mitigation/correctnet/correctnet.js';
import { correctChip, correctorName, networkCost, trainCorrector } from '../mitigation/corrector/corrector.js';
import { evaluateChips, generateVoltageSet, makeEnv, makeProbes } from '../mitigation/corrector/data.js';
import { drawDefect, type Population, resolvePopulation } from '../mitigation/population.js';
import { buildModel, type Model, setWeights } from '../nn/model.js';
import { evaluate } from '../nn/train.js';

/**
 * The main job's story (`npm start`, `xbar demo`): one trained network, damaged two ways on
 * simulated ReRAM chips, and recovered by xbar's two calibrated methods, every figure from this
 * run. Chips with programming variation (log-normal, sigma) are recovered by per-chip calibrated
 * compensation (CorrectNet's modules fine-tuned on each chip, docs/correctnet.md). Chips with one
 * spatial defect each, drawn from the six patterns of the stuck-at papers (the corrector's
 * population, docs/corrector.md), are recovered by the calibrated learned corrector (trained on
 * other chips of the population) and by per-chip calibrated compensation on the same chips.
 *
 * No files: data in, results out (the Node wrapper, demo-node.ts, saves them and the report).
 */
export interface DemoConfig {
  /** Chips per scenario (the damaged chips shown). */
  chips: number;
  seed: number;
  /** Device preset of both scenarios. */
  device: string;
  /** Programming variation of the first scenario (the defect scenario has none: defects only). */
  sigma: number;
  corrector: { trainChips: number; imagesPerChip: number; hidden: number[]; calibImages: number; epochs: number };
  /** Per-chip calibrated compensation: labelled training images per chip, epochs, parameter budget. */
  calibration: { images: number; epochs: number; budget: number; ranks: number[]; lr: number };
}

export const DEMO_DEFAULTS: DemoConfig = {
  chips: 100,
  seed: 1,
  device: 'reram-generic',
  sigma: 0.2,
  corrector: { trainChips: 400, imagesPerChip: 500, hidden: [], calibImages: 20, epochs: 10 },
  calibration: { images: 2000, epochs: 10, budget: 0.1, ranks: [4, 16], lr: 0.003 },
};

/** One damaged chip: its accuracy as damaged and after each recovery method run on it. */
export interface DemoChip {
  chip: number;
  /** 'variation', or the chip's defect type (circle, ring, ...). */
  type: string;
  /** The chip's stuck cells in `xbar simulate --faults` form ('' for variation). */
  faults: string;
  damaged: number;
  recovered: Partial<Record<DemoMethod, number>>;
}

export type DemoMethod = 'corrector' | 'compensation';
export const DEMO_METHODS: Record<DemoMethod, string> = {
  corrector: 'calibrated learned corrector',
  compensation: 'per-chip calibrated compensation',
};

export interface DemoScenario {
  id: 'variation' | 'defects';
  label: string;
  device: Device;
  chips: DemoChip[];
  damaged: Summary;
  recovered: Partial<Record<DemoMethod, Summary>>;
}

export interface DemoResult {
  format: 'xbar-demo';
  version: 1;
  config: DemoConfig;
  dataset: string;
  parameters: number;
  software: number;
  testImages: number;
  scenarios: DemoScenario[];
  /** The defect map of the first chip of each defect type (its faulty layers). */
  maps: (ChipLayerMap & { type: string })[];
  /** What each method costs: extra parameters and multiply-adds, also as a share of the network's. */
  costs: Record<DemoMethod, { name: string; parameters: number; macs: number; paramsShare: number; macsShare: number }>;
  seconds: Record<string, number>;
}

/** Progress of the long steps, for a progress bar. */
export interface DemoHooks {
  onStep?: (label: string, total: number) => void;
  onProgress?: (done: number, note?: string) => void;
}

export interface DemoEnv {
  kernels: Kernels;
  /** Runs per-chip calibrations (default: one after another; demo-node.ts passes worker threads). */
  calibrate?: (
    model: Model,
    data: Split,
    cfg: Omit<ChipCalibrationConfig, 'chip'>,
    circuit: Circuit,
    test: Split,
    chips: number[],
    onChip: (r: CalibratedChipResult) => void,
  ) => Promise<CalibratedChipResult[]>;
}

function checkConfig(c: DemoConfig): void {
  const whole = (v: number, min: number, what: string) => {
    if (!Number.isInteger(v) || v < min) throw new XbarError(`demo: ${what} must be a whole number >= ${min}, got ${v}`);
  };
  whole(c.chips, 1, 'chips');
  whole(c.seed, 0, 'seed');
  whole(c.corrector.trainChips, 2, 'corrector training chips');
  whole(c.corrector.imagesPerChip, 1, 'corrector images per chip');
  whole(c.calibration.images, 1, 'calibration images');
  if (!(c.sigma >= 0 && c.sigma <= 10)) throw new XbarError(`demo: sigma must be in [0, 10], got ${c.sigma}`);
}

/** Runs the story on `model` (trained on `data`); chips of both scenarios are chips 0.. of their seed. */
export async function runDemoStudy(model: Model, data: Dataset, cfg: DemoConfig, env: DemoEnv, hooks: DemoHooks = {}): Promise<DemoResult> {
  checkConfig(cfg);
  const { kernels } = env;
  const seconds: Record<string, number> = {};
  const timed = async <T>(key: string, f: () => T | Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    seconds[key] = (performance.now() - t0) / 1000;
    return r;
  };
  const circuit = resolveCircuit({});
  const nCalib = Math.min(data.train.n, circuit.calibrationImages);
  const rails = { x: data.train.x.subarray(0, nCalib * model.inputSize), n: nCalib };
  const plan = planCrossbars(model, circuit, rails.x, rails.n, kernels);
  const software = evaluate(model, data.test, kernels).accuracy;
  const varied = resolveDevice(cfg.device, { programSigma: cfg.sigma });
  const clean = resolveDevice(cfg.device, { programSigma: 0 });

  // Per-chip calibrated compensation: a module after every weighted layer within the budget,
  // fine-tuned on each chip's frozen weights with labelled training images.
  const sites = calibrationSites(model, cfg.calibration.ranks, 1, cfg.calibration.budget);
  const compensated = withCompensation(model, sites, cfg.seed + 31);
  const calData = head(data.train, cfg.calibration.images);
  const calibrate = env.calibrate ?? serialCalibration(kernels);
  const calibrateChips = async (device: Device, faults: ChipCalibrationConfig['faults'], chips: number[], label: string) => {
    hooks.onStep?.(label, chips.length);
    let done = 0;
    const base = {
      device,
      seed: cfg.seed,
      trainSeed: cfg.seed + 37,
      rails,
      epochs: cfg.calibration.epochs,
      batchSize: 64,
      lr: cfg.calibration.lr,
      ...(faults && { faults }),
    };
    const results = await calibrate(compensated, calData, base, circuit, data.test, chips, (r) =>
      hooks.onProgress?.(++done, `chip ${r.chip}: ${(100 * r.accuracy).toFixed(1)}%`),
    );
    return new Map(results.map((r) => [r.chip, r.accuracy]));
  };

  // Scenario 1: programming variation.
  const chipIds = Array.from({ length: cfg.chips }, (_, c) => c);
  const mc = await timed('variation', () =>
    runMonteCarlo(model, plan, varied, [], data.test, { chips: cfg.chips, seed: cfg.seed }, kernels),
  );
  const compVar = await timed('variation-compensation', () =>
    calibrateChips(varied, undefined, chipIds, 'per-chip compensation, variation chips'),
  );
  const variation: DemoChip[] = mc.chips.map((c) => ({
    chip: c.chip,
    type: 'variation',
    faults: '',
    damaged: c.accuracy,
    recovered: { compensation: compVar.get(c.chip) as number },
  }));

  // Scenario 2: spatial defects (the corrector's population), chips after its training chips.
  const population: Population = resolvePopulation({});
  const cenv = makeEnv(model, plan, clean, kernels);
  const probes = makeProbes(cenv, data.train, cfg.seed, { statsImages: 0, calibImages: cfg.corrector.calibImages, ridge: 0.1 });
  const T = cfg.corrector.trainChips;
  hooks.onStep?.('corrector training chips', T);
  const set = await timed('corrector-chips', () =>
    generateVoltageSet(
      cenv,
      population,
      probes,
      data.train,
      { seed: cfg.seed, firstChip: 0, chips: T, imagesPerChip: cfg.corrector.imagesPerChip },
      (_r, done) => hooks.onProgress?.(done),
    ),
  );
  hooks.onStep?.('corrector training epochs', cfg.corrector.epochs);
  const shape = { hidden: cfg.corrector.hidden, norm: 'calib' as const, calibImages: cfg.corrector.calibImages };
  const trained = await timed('corrector-training', () =>
    trainCorrector(
      set,
      shape,
      { epochs: cfg.corrector.epochs, batchSize: 256, lr: 0.003, seed: cfg.seed + 100, valFraction: 0 },
      kernels,
      undefined,
      {
        onEpoch: (e) => hooks.onProgress?.(e.epoch),
      },
    ),
  );
  hooks.onStep?.('defect chips with the corrector', cfg.chips);
  const held = await timed('defects', () =>
    evaluateChips(
      cenv,
      population,
      probes,
      data.test,
      { seed: cfg.seed, firstChip: T, chips: cfg.chips },
      [(f, n, chip) => correctChip(trained.corrector, f, n, chip, kernels)],
      (_r, done) => hooks.onProgress?.(done),
    ),
  );
  const defectIds = held.map((h) => h.chip);
  const compDef = await timed('defects-compensation', () =>
    calibrateChips(clean, { circuit, population }, defectIds, 'per-chip compensation, defect chips'),
  );
  const defects: DemoChip[] = held.map((h) => ({
    chip: h.chip,
    type: h.type,
    faults: h.faults,
    damaged: h.uncorrected,
    recovered: { corrector: h.corrected[0] as number, compensation: compDef.get(h.chip) as number },
  }));

  const firstOfType = [...new Map(held.map((h) => [h.type, h.chip] as const)).entries()];
  const maps = firstOfType.flatMap(([type, c]) => {
    const spec = drawDefect(population, plan.layers.length, cfg.seed, c).spec;
    return chipMaps(plan, programChip(plan, clean, spec, cfg.seed, c), spec, cfg.seed).map((m) => ({ ...m, type }));
  });

  const scenario = (id: DemoScenario['id'], label: string, device: Device, chips: DemoChip[]): DemoScenario => {
    const methods = (Object.keys(DEMO_METHODS) as DemoMethod[]).filter((m) => chips.every((c) => c.recovered[m] !== undefined));
    return {
      id,
      label,
      device,
      chips,
      damaged: summarize(chips.map((c) => c.damaged)),
      recovered: Object.fromEntries(methods.map((m) => [m, summarize(chips.map((c) => c.recovered[m] as number))])),
    };
  };
  const main = networkCost(model);
  const comp = compensationCost(compensated);
  const corr = networkCost(trained.corrector.model);
  return {
    format: 'xbar-demo',
    version: 1,
    config: cfg,
    dataset: data.name,
    parameters: model.parameterCount,
    software,
    testImages: data.test.n,
    scenarios: [
      scenario('variation', `programming variation, sigma ${cfg.sigma}`, varied, variation),
      scenario('defects', 'one spatial defect per chip (six patterns, stuck-on/off/at, output layer)', clean, defects),
    ],
    maps,
    costs: {
      compensation: {
        name: sites.map((s) => `r${s.rank}@${s.layer}`).join(' '),
        parameters: comp.params,
        macs: comp.macs,
        paramsShare: comp.paramsShare,
        macsShare: comp.macsShare,
      },
      corrector: {
        name: correctorName(trained.corrector),
        parameters: corr.parameters,
        macs: corr.macs,
        paramsShare: corr.parameters / main.parameters,
        macsShare: corr.macs / main.macs,
      },
    },
    seconds,
  };
}

/** The calibrations one after another, each chip from the model's weights. */
function serialCalibration(kernels: Kernels): NonNullable<DemoEnv['calibrate']> {
  return async (model, data, cfg, circuit, test, chips, onChip) =>
    chips.map((c) => {
      const m = setWeights(
        buildModel(model.spec, 0),
        model.params.map((p) => p.value),
      );
      const r = calibrateAndSimulate(m, data, chipConfig(cfg, c), circuit, test, kernels);
      onChip(r);
      return r;
    });
}
