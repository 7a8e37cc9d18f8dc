import { type Context, type Layer, type LayerSpec, wantsGrad } from './layer.js';
import { buffer, type Param, param, type Tensor, tensor } from './tensor.js';

/**
 * Batch normalisation over the channel (last) axis of NHWC images or vectors:
 *
 *   y = gamma * (x - mean) / sqrt(var + eps) + beta
 *
 * While it is being trained (ctx.training, and its gamma among the trained parameters) mean and
 * var are the batch's (biased variance) and the running statistics move towards them by
 * `momentum` (running = (1 - m) running + m batch; the running variance is the unbiased one, as
 * in PyTorch). Otherwise it uses the running statistics: evaluation, and fine-tuning modules on a
 * frozen network, which must not shift its statistics. At inference it is a per-channel affine,
 * which the crossbar mapping folds into the weighted layer before it (plan.ts).
 */
export class BatchNorm implements Layer {
  readonly spec: LayerSpec;
  readonly outShape: number[];
  readonly params: Param[];
  readonly gamma: Param;
  readonly beta: Param;
  readonly runningMean: Param;
  readonly runningVar: Param;
  readonly channels: number;
  private xhat: Float32Array | null = null;
  private invStd: Float64Array | null = null;
  private batchMode = false;

  constructor(
    readonly inShape: number[],
    prefix: string,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    if (inShape.length !== 1 && inShape.length !== 3)
      throw new RangeError(`batchnorm needs a vector or an image [h, w, c] input, got [${inShape}]`);
    this.channels = inShape[inShape.length - 1];
    this.spec = { type: 'batchnorm', ...(eps !== 1e-5 && { eps }), ...(momentum !== 0.1 && { momentum }) };
    this.outShape = inShape;
    const c = this.channels;
    this.gamma = param(`${prefix}.gamma`, [c]);
    this.beta = param(`${prefix}.beta`, [c]);
    this.runningMean = buffer(`${prefix}.runningMean`, [c]);
    this.runningVar = buffer(`${prefix}.runningVar`, [c]);
    this.gamma.value.fill(1);
    this.runningVar.value.fill(1);
    this.params = [this.gamma, this.beta, this.runningMean, this.runningVar];
  }

  /** The inference-time affine y = x * scale + shift, per channel, from the running statistics. */
  affine(): { scale: Float64Array; shift: Float64Array } {
    const c = this.channels;
    const scale = new Float64Array(c);
    const shift = new Float64Array(c);
    for (let j = 0; j < c; j++) {
      scale[j] = this.gamma.value[j] / Math.sqrt(this.runningVar.value[j] + this.eps);
      shift[j] = this.beta.value[j] - this.runningMean.value[j] * scale[j];
    }
    return { scale, shift };
  }

  forward(x: Tensor, ctx: Context): Tensor {
    const c = this.channels;
    const n = x.data.length / c;
    const y = tensor(x.shape.slice());
    const batchStats = ctx.training && wantsGrad(ctx, this.gamma);
    const xv = x.data;
    if (!batchStats) {
      const { scale, shift } = this.affine();
      for (let i = 0; i < xv.length; i += c) for (let j = 0; j < c; j++) y.data[i + j] = xv[i + j] * scale[j] + shift[j];
      if (ctx.training) {
        const invStd = new Float64Array(c);
        for (let j = 0; j < c; j++) invStd[j] = 1 / Math.sqrt(this.runningVar.value[j] + this.eps);
        const xhat = new Float32Array(xv.length);
        for (let i = 0; i < xv.length; i += c)
          for (let j = 0; j < c; j++) xhat[i + j] = (xv[i + j] - this.runningMean.value[j]) * invStd[j];
        this.save(xhat, invStd, false);
      }
      return y;
    }
    const mean = new Float64Array(c);
    const v = new Float64Array(c);
    for (let i = 0; i < xv.length; i += c) for (let j = 0; j < c; j++) mean[j] += xv[i + j];
    for (let j = 0; j < c; j++) mean[j] /= n;
    for (let i = 0; i < xv.length; i += c)
      for (let j = 0; j < c; j++) {
        const d = xv[i + j] - mean[j];
        v[j] += d * d;
      }
    const invStd = new Float64Array(c);
    const m = this.momentum;
    for (let j = 0; j < c; j++) {
      const biased = v[j] / n;
      invStd[j] = 1 / Math.sqrt(biased + this.eps);
      this.runningMean.value[j] = (1 - m) * this.runningMean.value[j] + m * mean[j];
      this.runningVar.value[j] = (1 - m) * this.runningVar.value[j] + m * (n > 1 ? v[j] / (n - 1) : biased);
    }
    const xhat = new Float32Array(xv.length);
    const g = this.gamma.value;
    const b = this.beta.value;
    for (let i = 0; i < xv.length; i += c)
      for (let j = 0; j < c; j++) {
        const h = (xv[i + j] - mean[j]) * invStd[j];
        xhat[i + j] = h;
        y.data[i + j] = g[j] * h + b[j];
      }
    this.save(xhat, invStd, true);
    return y;
  }

  private save(xhat: Float32Array, invStd: Float64Array, batchMode: boolean): void {
    this.xhat = xhat;
    this.invStd = invStd;
    this.batchMode = batchMode;
  }

  backward(dy: Tensor, ctx: Context, needInputGrad = true): Tensor | null {
    const xhat = this.xhat;
    const invStd = this.invStd;
    if (!xhat || !invStd) throw new Error('batchnorm.backward before a training forward pass');
    const c = this.channels;
    const g = dy.data;
    const sumDy = new Float64Array(c);
    const sumDyXhat = new Float64Array(c);
    for (let i = 0; i < g.length; i += c)
      for (let j = 0; j < c; j++) {
        sumDy[j] += g[i + j];
        sumDyXhat[j] += g[i + j] * xhat[i + j];
      }
    if (wantsGrad(ctx, this.gamma)) for (let j = 0; j < c; j++) this.gamma.grad[j] += sumDyXhat[j];
    if (wantsGrad(ctx, this.beta)) for (let j = 0; j < c; j++) this.beta.grad[j] += sumDy[j];
    this.xhat = null;
    this.invStd = null;
    if (!needInputGrad) return null;
    const dx = tensor(dy.shape.slice());
    const gamma = this.gamma.value;
    if (!this.batchMode) {
      for (let i = 0; i < g.length; i += c) for (let j = 0; j < c; j++) dx.data[i + j] = g[i + j] * gamma[j] * invStd[j];
      return dx;
    }
    // dx = gamma * invStd / N * (N dy - sum(dy) - xhat * sum(dy * xhat)), per channel.
    const n = g.length / c;
    for (let i = 0; i < g.length; i += c)
      for (let j = 0; j < c; j++) dx.data[i + j] = ((gamma[j] * invStd[j]) / n) * (n * g[i + j] - sumDy[j] - xhat[i + j] * sumDyXhat[j]);
    return dx;
  }
}
