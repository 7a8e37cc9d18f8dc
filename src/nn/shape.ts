import type { Context, Layer, LayerSpec } from './layer.js';
import { size, type Tensor } from './tensor.js';

/** Reshape to [batch, features]; free because NHWC data is already contiguous per image. */
export class Flatten implements Layer {
  readonly spec: LayerSpec = { type: 'flatten' };
  readonly outShape: number[];
  readonly params = [];
  constructor(readonly inShape: number[]) {
    this.outShape = [size(inShape)];
  }
  forward(x: Tensor): Tensor {
    return { data: x.data, shape: [x.shape[0], ...this.outShape] };
  }
  backward(dy: Tensor): Tensor {
    return { data: dy.data, shape: [dy.shape[0], ...this.inShape] };
  }
}

/** Inverted dropout: identity at inference, so it never reaches the crossbar. */
export class Dropout implements Layer {
  readonly spec: LayerSpec;
  readonly outShape: number[];
  readonly params = [];
  private mask: Float32Array | null = null;
  constructor(
    readonly inShape: number[],
    readonly rate: number,
  ) {
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
    this.spec = { type: 'dropout', rate };
    this.outShape = inShape;
  }
  forward(x: Tensor, ctx: Context): Tensor {
    if (!ctx.training || ctx.dropout === false || this.rate === 0) return x;
    if (!ctx.rng) throw new Error('dropout needs ctx.rng when training');
    const keep = 1 - this.rate;
    const mask = new Float32Array(x.data.length);
    const y = new Float32Array(x.data.length);
    for (let i = 0; i < mask.length; i++) {
      mask[i] = ctx.rng.uniform() < keep ? 1 / keep : 0;
      y[i] = x.data[i] * mask[i];
    }
    this.mask = mask;
    return { data: y, shape: x.shape };
  }
  backward(dy: Tensor): Tensor {
    const mask = this.mask;
    if (!mask) return dy;
    const dx = new Float32Array(dy.data.length);
    for (let i = 0; i < dx.length; i++) dx[i] = dy.data[i] * mask[i];
    this.mask = null;
    return { data: dx, shape: dy.shape };
  }
}
