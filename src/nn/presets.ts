import { XbarError } from '../core/errors.js';
import type { LayerSpec } from './layer.js';
import type { GraphSpec, ModelSpec, NodeSpec } from './spec.js';
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

/**
 * A ResNet in the CIFAR layout of He et al. (2016), ResNet-(6n+2): a 3x3 stem, three stages of
 * n basic blocks (3x3 conv, batch norm, ReLU, 3x3 conv, batch norm, plus the shortcut, ReLU)
 * with widths[s] filters, the first block of stages 2 and 3 at stride 2 with a 1x1 projection
 * shortcut (and batch norm), the others with identity shortcuts, then global average pooling
 * and a dense classifier. Convolutions have no bias: the batch norm after each supplies it.
 */
export function resnetSpec(inputShape: [number, number, number], widths: [number, number, number], n: number, classes: number): GraphSpec {
  const nodes: NodeSpec[] = [];
  const conv3 = (name: string, filters: number, stride: number, inputs?: string[]): NodeSpec => ({
    name,
    type: 'conv2d',
    filters,
    kernel: 3,
    stride,
    pad: 1,
    bias: false,
    ...(inputs && { inputs }),
  });
  nodes.push(conv3('stem', widths[0], 1), { name: 'stem_bn', type: 'batchnorm' }, { name: 'stem_relu', type: 'activation', fn: 'relu' });
  let prev = 'stem_relu';
  let channels = widths[0];
  widths.forEach((w, s) => {
    for (let b = 0; b < n; b++) {
      const id = `s${s + 1}b${b + 1}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      nodes.push(
        conv3(`${id}_conv1`, w, stride, [prev]),
        { name: `${id}_bn1`, type: 'batchnorm' },
        { name: `${id}_relu1`, type: 'activation', fn: 'relu' },
        conv3(`${id}_conv2`, w, 1),
        { name: `${id}_bn2`, type: 'batchnorm' },
      );
      let shortcut = prev;
      if (stride !== 1 || w !== channels) {
        nodes.push(
          { name: `${id}_proj`, type: 'conv2d', filters: w, kernel: 1, stride, bias: false, inputs: [prev] },
          { name: `${id}_proj_bn`, type: 'batchnorm' },
        );
        shortcut = `${id}_proj_bn`;
      }
      nodes.push(
        { name: `${id}_add`, type: 'add', inputs: [`${id}_bn2`, shortcut] },
        { name: `${id}_relu2`, type: 'activation', fn: 'relu' },
      );
      prev = `${id}_relu2`;
      channels = w;
    }
  });
  nodes.push({ name: 'gap', type: 'globalavgpool' }, { name: 'fc', type: 'dense', units: classes });
  return { inputShape, nodes };
}

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
  'resnet-small': {
    name: 'resnet-small',
    description:
      'ResNet-20 layout (3x3 stem, 3 stages of 3 residual blocks with batch norm, 1x1 projection shortcuts, global average pooling) at widths 8-16-32 on Fashion-MNIST',
    dataset: 'fashion-mnist',
    // Half the width of He et al.'s 16-32-64 (a quarter of the multiply-adds) and a short cosine
    // run: 8 epochs reach 92.32% on the test set (4 reached 91.40%), about 12 minutes per epoch on
    // two cores (README, "Presets").
    spec: resnetSpec([28, 28, 1], [8, 16, 32], 3, 10),
    training: { epochs: 8, batchSize: 64, optimizer: { name: 'adam', lr: 0.003, weightDecay: 0.01 }, schedule: 'cosine' },
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
