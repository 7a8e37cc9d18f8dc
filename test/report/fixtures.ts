/**
 * Result files of the kinds whose writers are still being built (corrector, CorrectNet, SPICE
 * comparison), in the shapes their issues describe, and a small simulate result in the exact
 * shape `xbar simulate --out` writes.
 */

// Accuracies stay in 0..1 (the report refuses others); a CI of the mean may leave it.
const clamp = (x: number) => Math.min(1, Math.max(0, x));
const sum = (mean: number, std: number, n: number) => ({
  n,
  mean,
  std,
  min: clamp(mean - 2 * std),
  max: clamp(mean + 2 * std),
  ci95: [mean - std / 3, mean + std / 3],
  p025: clamp(mean - 2 * std),
  p975: clamp(mean + 2 * std),
});

export function simulateResult(opts: { key?: string; values?: string[]; faults?: string } = {}) {
  const key = opts.key ?? '';
  const values = opts.values ?? [''];
  return {
    format: 'xbar-simulate',
    version: 1,
    xbarVersion: '0.1.0',
    createdAt: '2026-11-23T10:00:00.000Z',
    command: {
      device: 'reram-generic',
      chips: 3,
      seed: 5,
      saturate: true,
      model: 'runs/m',
      ...(key ? { sweep: `${key}=${values.join(',')}` } : {}),
      out: 'runs/s',
    },
    model: 'runs/m',
    dataset: 'digits8',
    points: values.map((value, i) => ({
      key,
      value,
      device: {
        name: 'reram-generic',
        gMin: 1e-6,
        gMax: 1e-4,
        levels: 0,
        programSigma: key === 'sigma' ? Number(value) : 0.1,
        readNoise: 0,
        stuckOn: [1e-4, 1e-4],
        stuckOff: [1e-6, 1e-6],
      },
      circuit: {
        arrayRows: 128,
        arrayCols: 128,
        scaling: 'layer',
        vRead: 0.2,
        dacBits: 0,
        adcBits: 0,
        saturate: true,
        railHeadroom: 1.5,
        wireResistance: 0,
        calibrationImages: 1000,
      },
      faults: opts.faults ?? '',
      summary: sum(0.9 - 0.1 * i, 0.01 * i, 3),
      seconds: 0.1,
      images: 1000,
      chips: [0, 1, 2].map((c) => ({
        chip: c,
        accuracy: 0.9 - 0.1 * i + 0.01 * (c - 1) * i,
        correct: 900,
        faultyWeights: opts.faults ? [c + 1, 0, 2, 0] : [0, 0, 0, 0],
      })),
    })),
  };
}

export const correctorResult = {
  format: 'xbar-corrector',
  version: 1,
  xbarVersion: '0.1.0',
  model: 'runs/mlp-paper',
  dataset: 'digits8',
  seed: 7,
  corrector: { kind: 'mlp', hidden: [32], parameters: 682, macs: 672, relativeMacs: 0.9 },
  trainChips: 400,
  testChips: 100,
  before: sum(0.52, 0.12, 100),
  after: sum(0.93, 0.03, 100),
  chips: Array.from({ length: 12 }, (_, i) => ({ chip: i, before: 0.4 + 0.02 * i, after: 0.88 + 0.005 * i })),
  perType: ['circle', 'circle-complement', 'ring', 'rows', 'columns', 'checkerboard'].map((type, i) => ({
    type,
    before: { mean: 0.5 + 0.02 * i, std: 0.1 },
    after: { mean: 0.9 + 0.01 * i, std: 0.02 },
  })),
  leaveOneOut: ['circle', 'circle-complement', 'ring', 'rows', 'columns', 'checkerboard'].map((heldOut, i) => ({
    heldOut,
    uncorrected: 0.5 + 0.01 * i,
    corrected: i === 1 || i === 5 ? 0.7 : 0.88,
  })),
  sizes: [
    { hidden: [2], parameters: 42, after: 0.41, before: 0.52 },
    { hidden: [8], parameters: 178, after: 0.6, before: 0.52 },
    { hidden: [32], parameters: 682, after: 0.93, before: 0.52 },
    { hidden: [64, 32], parameters: 3114, after: 0.95, before: 0.52 },
  ],
};

const methods = ['plain', 'noise-injection', 'lipschitz', 'lipschitz+compensation', 'noise-injection+compensation'];
const sigmas = [0, 0.25, 0.5, 0.75, 1];

export const correctnetResult = {
  format: 'xbar-correctnet',
  version: 1,
  xbarVersion: '0.1.0',
  model: 'lenet5',
  dataset: 'mnist',
  chips: 50,
  seed: 1,
  cleanAccuracy: 0.991,
  compensation: { layers: [1, 3], parameters: 412, overheadParameters: 0.0067 },
  rows: sigmas.flatMap((sigma) =>
    methods.map((method, m) => ({ sigma, method, summary: sum(Math.max(0.1, 0.99 - sigma * (0.9 - 0.18 * m)), 0.02 + 0.05 * sigma, 50) })),
  ),
  rl: {
    episodes: 40,
    curve: Array.from({ length: 40 }, (_, i) => ({ episode: i, reward: 0.5 + 0.4 * (1 - Math.exp(-i / 8)) })),
    placement: [1, 3],
    exhaustiveBest: [1, 3],
  },
  amplification: [0, 1, 2, 3, 4].map((layer) => ({ layer, plain: 1.5 + 0.1 * layer, lipschitz: 0.9 + 0.02 * layer })),
};

export const spiceResult = {
  format: 'xbar-spice-compare',
  version: 1,
  xbarVersion: '0.1.0',
  model: 'runs/mlp-paper',
  engine: 'ngspice',
  images: 100,
  seed: 1,
  agreement: 1,
  behaviouralSeconds: 0.012,
  spiceSeconds: 14.2,
  results: [0, 1, 2].map((chip) => ({
    chip,
    behavioural: { accuracy: 0.9 - 0.05 * chip, seconds: 0.004 },
    spice: { accuracy: 0.9 - 0.05 * chip, seconds: 4.7 },
    agreement: 1,
    maxAbsError: 2e-4 * (chip + 1),
    meanRelError: 3e-5 * (chip + 1),
  })),
  samples: Array.from({ length: 30 }, (_, i) => ({ image: i, output: i % 10, behavioural: 0.01 * i, spice: 0.01 * i * (1 + 1e-4) })),
};
