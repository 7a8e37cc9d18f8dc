import type { ActivationName, Context, Layer, LayerSpec } from './layer.js';
import { bitsOf, type Tensor, tensor } from './tensor.js';

/**
 * Element-wise nonlinearity. 'crelu' is ReLU clipped at `cap`: an analog neuron's output saturates
 * at its supply rail, so a network meant for analog hardware can be trained with that bound.
 */
export class Activation implements Layer {
  readonly spec: LayerSpec;
  readonly outShape: number[];
  readonly params = [];
  private output: Tensor | null = null;
  private input: Tensor | null = null;

  constructor(
    readonly inShape: number[],
    readonly fn: ActivationName,
    readonly cap = 1,
    /** leakyrelu's slope below zero. */
    readonly alpha = 0.01,
  ) {
    if (fn === 'crelu' && !(cap > 0)) throw new RangeError(`crelu cap must be > 0, got ${cap}`);
    if (fn === 'leakyrelu' && !(alpha >= 0 && alpha < 1)) throw new RangeError(`leakyrelu alpha must be in [0, 1), got ${alpha}`);
    this.spec =
      fn === 'crelu'
        ? { type: 'activation', fn, cap }
        : fn === 'leakyrelu'
          ? { type: 'activation', fn, alpha }
          : { type: 'activation', fn };
    this.outShape = inShape;
  }

  forward(x: Tensor, ctx: Context): Tensor {
    const y = tensor(x.shape.slice());
    if (this.fn === 'relu' || this.fn === 'crelu') {
      // The kernels' clamp gives apply's bits for every number (+0 for -0; a NaN, which only a
      // diverged run has, goes to a rail instead of through) and runs vectorised in the addon.
      y.data.set(x.data);
      ctx.kernels.clamp(y.data, 0, this.fn === 'relu' ? Number.POSITIVE_INFINITY : this.cap);
    } else apply(this.fn, this.cap, x.data, y.data, this.alpha);
    if (ctx.training) {
      this.input = x;
      this.output = y;
    }
    return y;
  }

  backward(dy: Tensor, ctx: Context): Tensor {
    const x = this.input;
    const y = this.output;
    if (!x || !y) throw new Error('activation.backward before a training forward pass');
    const dx = tensor(dy.shape.slice());
    const g = dy.data;
    const out = dx.data;
    const xv = x.data;
    const yv = y.data;
    const n = g.length;
    switch (this.fn) {
      case 'relu':
        ctx.kernels.reluGrad(xv, g, out);
        break;
      case 'crelu':
        for (let i = 0; i < n; i++) out[i] = xv[i] > 0 && xv[i] < this.cap ? g[i] : 0;
        break;
      case 'leakyrelu':
        for (let i = 0; i < n; i++) out[i] = xv[i] > 0 ? g[i] : this.alpha * g[i];
        break;
      case 'sigmoid':
        for (let i = 0; i < n; i++) out[i] = g[i] * yv[i] * (1 - yv[i]);
        break;
      case 'tanh':
        for (let i = 0; i < n; i++) out[i] = g[i] * (1 - yv[i] * yv[i]);
        break;
      case 'linear':
        out.set(g);
        break;
    }
    this.input = null;
    this.output = null;
    return dx;
  }
}

/** The activation as a plain function, shared with the crossbar simulator's neuron model. */
export function apply(fn: ActivationName, cap: number, x: Float32Array, y: Float32Array, alpha = 0.01): void {
  const n = x.length;
  switch (fn) {
    case 'relu': {
      // y[i] = Math.max(x[i], 0) (NaN stays NaN, -0 becomes +0), as a mask on the bits (bitsOf).
      const xb = bitsOf(x);
      const yb = bitsOf(y);
      for (let i = 0; i < n; i++) yb[i] = xb[i] & -!(x[i] <= 0);
      break;
    }
    case 'crelu':
      for (let i = 0; i < n; i++) y[i] = Math.min(Math.max(x[i], 0), cap);
      break;
    case 'leakyrelu':
      for (let i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : alpha * x[i];
      break;
    case 'sigmoid':
      for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-x[i]));
      break;
    case 'tanh':
      for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]);
      break;
    case 'linear':
      y.set(x);
      break;
  }
}
