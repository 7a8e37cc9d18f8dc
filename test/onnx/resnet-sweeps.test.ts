import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import { makeProgress } from '../../src/core/progress-node.js';
import { loadDataset } from '../../src/data/node.js';
import { writeNpy } from '../../src/data/npy.js';
import { runSimulate, type SimulateOptions } from '../../src/study/simulate-node.js';

/**
 * The imported PyTorch ResNet (a graph network: residual additions, projection shortcuts, global
 * pooling) through every sweep `xbar simulate --sweep` has, with variation and faults, on a few
 * images: each point runs and gives an accuracy. What the sweeps compute is tested on their own
 * (test/cli/simulate.test.ts); here it is that a graph imported from ONNX goes through all of them.
 * A slice of MNIST as NumPy files keeps each run small: every point calibrates the neurons on up
 * to 1000 training images, which here are 64.
 */
const dataDir = mkdtempSync(join(tmpdir(), 'xbar-resnet-sweeps-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
const mnist = loadDataset('mnist', { limitTrain: 64, limitTest: 40 });
for (const [name, split] of [
  ['train', mnist.train],
  ['test', mnist.test],
] as const) {
  writeFileSync(join(dataDir, `x_${name}.npy`), writeNpy([split.n, 28, 28], split.x));
  writeFileSync(join(dataDir, `y_${name}.npy`), writeNpy([split.n], split.y));
}
const resnet = resolve(import.meta.dirname, '../fixtures/onnx/resnet-op17.onnx');
const kernels = loadKernels({ threads: 1 });
const base: SimulateOptions = {
  model: resnet,
  dataset: 'mnist-slice',
  dataDir,
  device: 'reram-generic',
  sigma: 0.1,
  faults: 'random:sa0=0.01,sa1=0.01',
  chips: 1,
  seed: 1,
  workers: 1,
};
const SWEEPS: [string, Partial<SimulateOptions>?][] = [
  ['sigma=0,0.3'],
  ['read-noise=0,0.05'],
  ['levels=0,16'],
  ['adc-bits=0,6'],
  ['dac-bits=0,6'],
  ['adc-offset=0,0.01', { adcBits: 8 }],
  ['adc-gain-error=0,0.01', { adcBits: 8 }],
  ['adc-noise=0,0.01', { adcBits: 8 }],
  ['dac-inl=0,0.01', { dacBits: 8 }],
  ['array-size=64,128'],
  ['wire-resistance=0,1'],
  ['faults=none;ring:radius=0.3,width=0.1,density=0.2@layers=3'],
  ['layers=0;5;0,11', { faults: 'random:sa0=0.01,sa1=0.01@layers=0' }],
  ['fault-rate=0,0.1'],
  ['density=0.1,0.5', { faults: 'circle:radius=0.3,density=0.2' }],
  ['time=1s,1y'],
  ['drift-compensation=none,global', { time: '1d', device: 'pcm-joshi2020' }],
];

describe('the imported ResNet runs through every sweep', () => {
  it.each(SWEEPS)('--sweep %s', async (sweep, extra) => {
    const { rows } = await runSimulate({ ...base, ...extra, sweep }, kernels, makeProgress(true));
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const r of rows) {
      expect(r.result.summary.mean).toBeGreaterThanOrEqual(0);
      expect(r.result.summary.mean).toBeLessThanOrEqual(1);
    }
  });
});
