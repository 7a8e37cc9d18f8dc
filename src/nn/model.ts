import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { Rng } from '../core/rng.js';
import { Activation } from './activation.js';
import { Compensation } from './compensation.js';
import { Conv2d } from './conv.js';
import { Dense } from './dense.js';
import { type Context, type Layer, wantsGrad } from './layer.js';
import { Pool2d } from './pool.js';
import { Dropout, Flatten } from './shape.js';
import type { ModelSpec } from './spec.js';
import { type Param, size, type Tensor } from './tensor.js';

/** A sequential network: the layers, in order, and their parameters. */
export class Model {
  readonly params: Param[];
  constructor(
    readonly spec: ModelSpec,
    readonly layers: Layer[],
  ) {
    this.params = layers.flatMap((l) => l.params);
  }

  get inputSize(): number {
    return size(this.spec.inputShape);
  }
  get outputSize(): number {
    return size(this.layers[this.layers.length - 1].outShape);
  }
  get parameterCount(): number {
    return this.params.reduce((a, p) => a + p.value.length, 0);
  }

  forward(x: Tensor, ctx: Context): Tensor {
    let h: Tensor = { data: x.data, shape: [x.shape[0], ...this.spec.inputShape] };
    for (const layer of this.layers) h = layer.forward(h, ctx);
    return h;
  }

  backward(dy: Tensor, ctx: Context): void {
    // Below the first layer with a trained parameter nothing needs a gradient: that layer skips
    // computing dLoss/dInput (for a conv, the largest GEMM and col2im of the pass).
    const first = this.layers.findIndex((l) => l.params.some((p) => wantsGrad(ctx, p)));
    let g: Tensor | null = dy;
    for (let i = this.layers.length - 1; i >= first && g; i--) g = this.layers[i].backward(g, ctx, i > first);
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad.fill(0);
  }

  /** Logits for n inputs, in batches so memory stays bounded for any n. */
  predict(x: Float32Array, n: number, kernels: Kernels, batchSize = 1000): Float32Array {
    const inSize = this.inputSize;
    if (x.length !== n * inSize) throw new XbarError(`model expects ${inSize} inputs per sample, data has ${x.length / n}`);
    const out = new Float32Array(n * this.outputSize);
    const ctx: Context = { kernels, training: false };
    for (let s = 0; s < n; s += batchSize) {
      const b = Math.min(batchSize, n - s);
      const y = this.forward({ data: x.subarray(s * inSize, (s + b) * inSize), shape: [b, inSize] }, ctx);
      out.set(y.data, s * this.outputSize);
    }
    return out;
  }
}

/** Copies `weights` (one array per parameter, in the model's order) into `model`; returns it. */
export function setWeights(model: Model, weights: readonly Float32Array[]): Model {
  model.params.forEach((p, i) => {
    p.value.set(weights[i]);
  });
  return model;
}

/** Builds a model from its spec, inferring every layer's shape; weights drawn from `seed`. */
export function buildModel(spec: ModelSpec, seed: number): Model {
  const rng = new Rng(seed);
  const layers: Layer[] = [];
  let shape: number[] = [...spec.inputShape];
  let weighted = 0;
  let compensation = 0;
  spec.layers.forEach((ls, i) => {
    const next = spec.layers[i + 1];
    const reluNext = next?.type === 'activation' && (next.fn === 'relu' || next.fn === 'crelu');
    let layer!: Layer;
    try {
      switch (ls.type) {
        case 'dense':
          layer = new Dense(shape, ls.units, `layer${weighted++}`, rng.fork(i), reluNext ? 'relu' : 'other');
          break;
        case 'conv2d':
          layer = new Conv2d(shape, ls.filters, ls.kernel, ls.stride ?? 1, ls.padding ?? 'valid', `layer${weighted++}`, rng.fork(i));
          break;
        case 'maxpool':
        case 'avgpool':
          layer = new Pool2d(shape, ls.type === 'maxpool' ? 'max' : 'avg', ls.size, ls.stride ?? ls.size);
          break;
        case 'activation':
          layer = new Activation(shape, ls.fn, ls.cap);
          break;
        case 'flatten':
          layer = new Flatten(shape);
          break;
        case 'dropout':
          layer = new Dropout(shape, ls.rate);
          break;
        case 'compensation':
          layer = new Compensation(shape, ls.rank, ls.kernel ?? 1, `comp${compensation++}`, rng.fork(i));
          break;
      }
    } catch (e) {
      if (e instanceof RangeError) throw new XbarError(`model layer ${i} (${ls.type}): ${e.message}`);
      throw e;
    }
    layers.push(layer);
    shape = layer.outShape;
  });
  return new Model(spec, layers);
}
