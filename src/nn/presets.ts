import { XbarError } from '../core/errors.js';
import type { LayerSpec } from './layer.js';
import type { ModelSpec } from './spec.js';
import type { TrainConfig } from './train.js';

/** A named network with the dataset it is meant for and training settings that reach its target. */
export interface Preset {
  name: string;
  description: string;
  dataset: string;
  spec: ModelSpec;
  training: Omit<TrainConfig, 'seed'>;
}

const dense = (units: number): LayerSpec => ({ type: 'dense', units });
const relu: LayerSpec = { type: 'activation', fn: 'relu' };
const flatten: LayerSpec = { type: 'flatten' };
const conv = (filters: number, kernel: number, padding: 'same' | 'valid' = 'same'): LayerSpec => ({
  type: 'conv2d',
  filters,
  kernel,
  padding,
});
const pool: LayerSpec = { type: 'maxpool', size: 2 };

const table = {
  'mlp-paper': {
    name: 'mlp-paper',
    description: '64-8-8-8-10 MLP on 8x8 digits: the fully analog network of the stuck-at-fault papers (4 synaptic arrays)',
    dataset: 'digits8',
    spec: { inputShape: [8, 8, 1], layers: [flatten, dense(8), relu, dense(8), relu, dense(8), relu, dense(10)] },
    training: { epochs: 30, batchSize: 64, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'cosine' },
  },
  mlp: {
    name: 'mlp',
    description: '784-256-128-64-10 MLP on MNIST',
    dataset: 'mnist',
    spec: { inputShape: [28, 28, 1], layers: [flatten, dense(256), relu, dense(128), relu, dense(64), relu, dense(10)] },
    training: { epochs: 20, batchSize: 128, optimizer: { name: 'adam', lr: 0.001 }, schedule: 'cosine' },
  },
  lenet5: {
    name: 'lenet5',
    description: 'LeNet-5 (conv 6@5x5, pool, conv 16@5x5, pool, 120-84-10) on MNIST',
    dataset: 'mnist',
    spec: {
      inputShape: [28, 28, 1],
      layers: [conv(6, 5), relu, pool, conv(16, 5, 'valid'), relu, pool, flatten, dense(120), relu, dense(84), relu, dense(10)],
    },
    training: { epochs: 15, batchSize: 128, optimizer: { name: 'adam', lr: 0.001 }, schedule: 'cosine' },
  },
  'vgg-small': {
    name: 'vgg-small',
    description: 'small VGG-style CNN (2x conv16, pool, 2x conv32, pool, 128-10) on Fashion-MNIST',
    dataset: 'fashion-mnist',
    spec: {
      inputShape: [28, 28, 1],
      layers: [
        conv(16, 3),
        relu,
        conv(16, 3),
        relu,
        pool,
        conv(32, 3),
        relu,
        conv(32, 3),
        relu,
        pool,
        flatten,
        { type: 'dropout', rate: 0.3 },
        dense(128),
        relu,
        { type: 'dropout', rate: 0.3 },
        dense(10),
      ],
    },
    training: { epochs: 15, batchSize: 128, optimizer: { name: 'adam', lr: 0.001 }, schedule: 'cosine' },
  },
} satisfies Record<string, Preset>;

/** The presets by name; each entry keeps its own spec type (sequential or graph). */
export const presets: Record<string, Preset> & typeof table = table;

export const presetNames = Object.keys(presets);

export function getPreset(name: string): Preset {
  const p = presets[name];
  if (!p) throw new XbarError(`unknown model preset '${name}': use one of ${presetNames.join(', ')}, or a JSON spec file`);
  return p;
}
