import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { type Progress, silentProgress } from '../core/progress.js';
import { resolveCircuit } from '../crossbar/circuit.js';
import { type Dataset, trainValSplit } from '../data/index.js';
import { type Device, resolveDevice } from '../device/config.js';
import { type LipschitzConfig, type LipschitzKind, LipschitzRegularizer } from '../mitigation/lipschitz.js';
import { composeStepHooks, Rails, WeightNoise } from '../mitigation/noise.js';
import type { Model } from '../nn/model.js';
import type { OptimizerName } from '../nn/optim.js';
import type { Preset } from '../nn/presets.js';
import { type EpochStats, evaluate, type TrainConfig, type TrainHooks, train } from '../nn/train.js';

/**
 * Training a network (`xbar train`), plain, Lipschitz-regularised (CorrectNet's error
 * suppression) or with noise injection (hardware-aware training): a model and its data in, the
 * trained model and its history out. train-node.ts reads the model and data the options name and
 * saves the result.
 */
export interface TrainOptions {
  model: string;
  dataset?: string;
  dataDir?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  optimizer?: OptimizerName;
  momentum?: number;
  weightDecay?: number;
  schedule?: 'cosine' | 'constant';
  seed: number;
  valFraction: number;
  limitTrain?: number;
  limitTest?: number;
  out?: string;
  /** Start from this saved model's weights (same architecture) instead of a fresh init: fine-tuning. */
  init?: string;
  /** Lipschitz regularisation (CorrectNet error suppression): 'orthogonal' or 'spectral', weight lambda. */
  lipschitz?: LipschitzKind;
  lambda?: number;
  lipschitzBound?: number;
  lipschitzIterations?: number;
  /** Noise-injection training: a fresh simulated chip of this sigma (log-normal) in every forward pass. */
  noiseSigma?: number;
  noiseReadNoise?: number;
  /** Device whose conductance mapping the injected noise follows (default reram-generic). */
  noiseDevice?: string;
  /** Share of the training steps over which the injected noise ramps up from 0 (default 0: full from the start). */
  noiseRamp?: number;
  /**
   * Noise injection through the chip's neuron rails: each weighted layer's output clipped where the
   * simulator saturates it (calibrated on the clean weights at every epoch). Without them the
   * heavy tail of log-normal variation compounds over a deep network's layers unbounded.
   */
  noiseRails?: boolean;
}

export interface TrainResult {
  model: Model;
  dataset: Dataset;
  history: EpochStats[];
  testAccuracy: number;
  testLoss: number;
  seconds: number;
  config: TrainConfig;
}

/** The training settings: the options over the preset's (or generic) defaults. */
export function trainConfig(opts: TrainOptions, preset: Preset | undefined): TrainConfig {
  const defaults = preset?.training ?? { epochs: 10, batchSize: 128, optimizer: { name: 'adam', lr: 0.001 }, schedule: 'cosine' };
  const optName = opts.optimizer ?? defaults.optimizer.name;
  return {
    epochs: opts.epochs ?? defaults.epochs,
    batchSize: opts.batchSize ?? defaults.batchSize,
    optimizer: {
      name: optName,
      lr: opts.lr ?? (optName === defaults.optimizer.name ? defaults.optimizer.lr : optName === 'sgd' ? 0.05 : 0.001),
      momentum: opts.momentum,
      weightDecay: opts.weightDecay,
    },
    schedule: opts.schedule ?? defaults.schedule,
    seed: opts.seed + 1,
  };
}

/**
 * Trains `model` (its initial weights as given) on the dataset's training images, a share held
 * out for validation, and measures it on the test images.
 */
export function trainStudy(
  model: Model,
  ds: Dataset,
  config: TrainConfig,
  opts: TrainOptions,
  kernels: Kernels,
  progress: Progress = silentProgress,
): { result: TrainResult; trainSamples: number; lipschitz: LipschitzConfig | null; noise: ReturnType<typeof stepHooks>['noise'] } {
  const { train: trainSplit, val } =
    opts.valFraction > 0 ? trainValSplit(ds.train, opts.valFraction, opts.seed + 2) : { train: ds.train, val: null };
  const step = stepHooks(model, opts, kernels, config.epochs * Math.ceil(trainSplit.n / config.batchSize));
  const rails = opts.noiseRails ? new Rails(model) : null;
  const nCalib = Math.min(trainSplit.n, resolveCircuit({}).calibrationImages);
  const t0 = performance.now();
  // Trained through the rails' model, which shares its parameters with `model`.
  const history = train(rails ? rails.model : model, trainSplit, val, config, kernels, {
    ...step.hooks,
    onEpochStart: (epoch, steps) => {
      // As the simulator calibrates them: on the clean weights, the first training images.
      rails?.calibrate(trainSplit.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);
      progress.start(steps, `epoch ${epoch}/${config.epochs}`);
    },
    onBatch: (done, _total, loss) => progress.update(done, `loss ${loss.toFixed(4)}`),
    onEpoch: (s) => {
      progress.log(
        `epoch ${s.epoch}/${config.epochs}  loss ${s.loss.toFixed(4)}  train ${(100 * s.trainAccuracy).toFixed(2)}%` +
          (s.valAccuracy !== undefined ? `  val ${(100 * s.valAccuracy).toFixed(2)}%` : '') +
          (s.penalty !== undefined ? `  penalty ${s.penalty.toFixed(4)}` : '') +
          `  ${s.seconds.toFixed(1)} s`,
      );
    },
  });
  progress.stop();
  const seconds = (performance.now() - t0) / 1000;
  const test = evaluate(model, ds.test, kernels);
  const result: TrainResult = { model, dataset: ds, history, testAccuracy: test.accuracy, testLoss: test.loss, seconds, config };
  return { result, trainSamples: trainSplit.n, lipschitz: step.lipschitz, noise: step.noise };
}

/** The per-step hooks of the regularised / noise-injected run, and their settings for the saved meta. */
function stepHooks(
  model: Model,
  opts: TrainOptions,
  kernels: Kernels,
  steps: number,
): {
  hooks: Pick<TrainHooks, 'beforeForward' | 'afterBackward'>;
  lipschitz: LipschitzConfig | null;
  noise: { device: Device; sigma: number; readNoise: number; seed: number; rampSteps: number; rails: boolean } | null;
} {
  const parts: Pick<TrainHooks, 'beforeForward' | 'afterBackward'>[] = [];
  let noise = null;
  if (opts.noiseSigma !== undefined || opts.noiseReadNoise !== undefined) {
    const device = resolveDevice(opts.noiseDevice ?? 'reram-generic', {
      programSigma: opts.noiseSigma ?? 0,
      readNoise: opts.noiseReadNoise ?? 0,
    });
    const rampDraws = Math.round((opts.noiseRamp ?? 0) * steps);
    noise = {
      device,
      sigma: device.programSigma,
      readNoise: device.readNoise,
      seed: opts.seed + 3,
      rampSteps: rampDraws,
      rails: Boolean(opts.noiseRails),
    };
    parts.push(new WeightNoise(model, { device, seed: noise.seed, rampDraws, kernels }).hooks());
  } else if (opts.noiseDevice || opts.noiseRamp !== undefined || opts.noiseRails)
    throw new XbarError('--noise-device, --noise-ramp and --noise-rails need --noise-sigma or --noise-read-noise');
  let lipschitz: LipschitzConfig | null = null;
  if (opts.lipschitz) {
    if (opts.lambda === undefined) throw new XbarError(`--lipschitz ${opts.lipschitz} needs --lambda (the penalty weight, e.g. 0.01)`);
    lipschitz = { kind: opts.lipschitz, lambda: opts.lambda, bound: opts.lipschitzBound ?? 1, iterations: opts.lipschitzIterations ?? 1 };
    parts.push(new LipschitzRegularizer(model, lipschitz, kernels).hooks());
  } else if (opts.lambda !== undefined || opts.lipschitzBound !== undefined)
    throw new XbarError('--lambda and --lipschitz-bound need --lipschitz orthogonal|spectral');
  return { hooks: composeStepHooks(...parts), lipschitz, noise };
}
