import type { Rng } from '../core/rng.js';
import { Conv2d } from './conv.js';
import type { Context, Layer, LayerSpec } from './layer.js';
import { type Param, param, type Tensor, tensor } from './tensor.js';

/**
 * A CorrectNet-style error-compensation module, inserted after a layer's output (a feature map
 * [h, w, C] or a vector [C]) and trained while the rest of the network stays fixed:
 *
 *   z = x * (1 + scale) + shift + up(relu(down(x)))
 *
 * `scale` and `shift` are per channel; `down` is a k x k convolution from C to `rank` channels
 * ('same' padding, k = 1 for vectors) and `up` a 1 x 1 convolution back to C. With rank 0 the
 * module is only the per-channel affine. It starts as the identity (scale, shift and `up` are
 * zero), so inserting it does not change the network until it is trained.
 *
 * It is not a dense or conv2d layer, so the crossbar simulator runs it digitally (no variation).
 */
export class Compensation implements Layer {
  readonly spec: LayerSpec;
  readonly outShape: number[];
  readonly params: Param[];
  readonly scale: Param;
  readonly shift: Param;
  readonly down: Conv2d | null;
  readonly up: Conv2d | null;
  private readonly image: [number, number, number];
  private input: Tensor | null = null;
  private hidden: Float32Array | null = null;
  /**
   * The module's own per-step arrays (hidden units, the branch's output, their gradients), kept
   * between steps and resized with the batch: none leaves the module, and fresh ones would be
   * zeroed and collected every step (a tenth of a calibration step's time went to that).
   */
  private readonly scratch = new Map<'hidden' | 'branch' | 'dHidden' | 'dBranch', Float32Array>();

  constructor(
    readonly inShape: number[],
    readonly rank: number,
    readonly kernel: number,
    prefix: string,
    rng: Rng,
  ) {
    if (!(Number.isInteger(rank) && rank >= 0)) throw new RangeError(`compensation rank must be a whole number >= 0, got ${rank}`);
    if (inShape.length !== 1 && inShape.length !== 3)
      throw new RangeError(`compensation needs a vector or an image [h, w, c] input, got [${inShape}]`);
    if (inShape.length === 1 && kernel !== 1) throw new RangeError(`compensation after a vector needs kernel 1, got ${kernel}`);
    if (kernel % 2 === 0) throw new RangeError(`compensation kernel must be odd, got ${kernel}`);
    this.image = inShape.length === 3 ? [inShape[0], inShape[1], inShape[2]] : [1, 1, inShape[0]];
    const c = this.image[2];
    this.spec = kernel === 1 ? { type: 'compensation', rank } : { type: 'compensation', rank, kernel };
    this.outShape = inShape;
    this.scale = param(`${prefix}.scale`, [c]);
    this.shift = param(`${prefix}.shift`, [c]);
    this.params = [this.scale, this.shift];
    if (rank > 0) {
      this.down = new Conv2d(this.image, rank, kernel, 1, 'same', `${prefix}.down`, rng.fork(0));
      this.up = new Conv2d([this.image[0], this.image[1], rank], c, 1, 1, 'same', `${prefix}.up`, rng.fork(1));
      this.up.weight.value.fill(0);
      this.params.push(...this.down.params, ...this.up.params);
    } else {
      this.down = null;
      this.up = null;
    }
  }

  /** Parameters, and multiply-adds per input sample. */
  get cost(): { params: number; macs: number } {
    const [h, w, c] = this.image;
    const params = this.params.reduce((a, p) => a + p.value.length, 0);
    const macs = h * w * (c + this.rank * c * this.kernel * this.kernel + this.rank * c);
    return { params, macs };
  }

  /** The module's array `name` of n floats in training; undefined (a fresh array) in inference, which has no steps. */
  private buffer(name: 'hidden' | 'branch' | 'dHidden' | 'dBranch', n: number, ctx: Context): Float32Array | undefined {
    if (!ctx.training) return undefined;
    let b = this.scratch.get(name);
    if (b?.length !== n) {
      b = new Float32Array(n);
      this.scratch.set(name, b);
    }
    return b;
  }

  forward(x: Tensor, ctx: Context): Tensor {
    const batch = x.shape[0];
    const y = tensor(x.shape.slice());
    const s = this.scale.value;
    const t = this.shift.value;
    const xv = x.data;
    const yv = y.data;
    ctx.kernels.channelAffine(xv, s, t, yv);
    let hidden: Float32Array | null = null;
    if (this.down && this.up) {
      const img: Tensor = { data: xv, shape: [batch, ...this.image] };
      const [h, w] = this.image;
      const pre = this.down.forward(img, ctx, this.buffer('hidden', batch * h * w * this.rank, ctx));
      hidden = pre.data;
      // hidden[i] < 0 becomes 0 (-0 and NaN stay).
      ctx.kernels.reluInPlace(hidden);
      ctx.kernels.addInto(yv, this.up.forward({ data: hidden, shape: pre.shape }, ctx, this.buffer('branch', yv.length, ctx)).data);
    }
    if (ctx.training) {
      this.input = x;
      this.hidden = hidden;
    }
    return y;
  }

  backward(dy: Tensor, ctx: Context, needInputGrad = true): Tensor | null {
    const x = this.input;
    if (!x) throw new Error('compensation.backward before a training forward pass');
    const batch = x.shape[0];
    const c = this.image[2];
    const s = this.scale.value;
    const gs = this.scale.grad;
    const gt = this.shift.grad;
    // The typed arrays in locals: V8 reloads a property such as dy.data on every iteration.
    const dyv = dy.data;
    const xv = x.data;
    const dx = needInputGrad ? tensor(x.shape.slice()) : null;
    const dxv = dx?.data;
    ctx.kernels.channelAffineGrad(xv, dyv, s, gs, gt, dxv ?? null);
    if (this.down && this.up) {
      const hidden = this.hidden;
      if (!hidden) throw new Error('compensation.backward lost its hidden activations');
      const [h, w] = this.image;
      const dh = this.up.backward({ data: dyv, shape: [batch, h, w, c] }, ctx, true, this.buffer('dHidden', hidden.length, ctx));
      if (!dh) throw new Error('compensation: missing gradient');
      ctx.kernels.reluGradInPlace(hidden, dh.data);
      const dxr = this.down.backward(dh, ctx, needInputGrad, needInputGrad ? this.buffer('dBranch', xv.length, ctx) : undefined);
      if (dxr && dxv) ctx.kernels.addInto(dxv, dxr.data);
    }
    this.input = null;
    this.hidden = null;
    return dx;
  }
}
