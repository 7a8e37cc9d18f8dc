import type { Context, Layer, LayerSpec } from './layer.js';
import { type Tensor, tensor } from './tensor.js';

/** Max or average pooling over non-padded windows of NHWC images. */
export class Pool2d implements Layer {
  readonly spec: LayerSpec;
  readonly outShape: number[];
  readonly params = [];
  private argmax: Int32Array | null = null;
  private batch = 0;

  constructor(
    readonly inShape: number[],
    readonly mode: 'max' | 'avg',
    readonly size: number,
    readonly stride: number,
  ) {
    if (inShape.length !== 3) throw new RangeError(`${mode}pool needs an image input [h, w, c], got [${inShape}]`);
    const [h, w, c] = inShape;
    const oh = Math.floor((h - size) / stride) + 1;
    const ow = Math.floor((w - size) / stride) + 1;
    if (oh < 1 || ow < 1) throw new RangeError(`${mode}pool size ${size} does not fit a ${h}x${w} input`);
    this.outShape = [oh, ow, c];
    this.spec = { type: mode === 'max' ? 'maxpool' : 'avgpool', size, stride };
  }

  forward(x: Tensor, ctx: Context): Tensor {
    const batch = x.shape[0];
    const [h, w, c] = this.inShape;
    const [oh, ow] = this.outShape;
    const { size: s, stride } = this;
    const y = tensor([batch, oh, ow, c]);
    if (this.mode === 'max') {
      const argmax = ctx.training ? new Int32Array(y.data.length) : undefined;
      ctx.kernels.maxPool(x.data, { batch, h, w, c, k: s, stride, pad: 0, oh, ow }, y.data, argmax);
      if (argmax) {
        this.argmax = argmax;
        this.batch = batch;
      }
      return y;
    }
    const inv = 1 / (s * s);
    let o = 0;
    for (let n = 0; n < batch; n++) {
      const img = n * h * w * c;
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          for (let ch = 0; ch < c; ch++, o++) {
            let sum = 0;
            for (let ky = 0; ky < s; ky++)
              for (let kx = 0; kx < s; kx++) sum += x.data[img + ((oy * stride + ky) * w + ox * stride + kx) * c + ch];
            y.data[o] = sum * inv;
          }
        }
      }
    }
    if (ctx.training) this.batch = batch;
    return y;
  }

  backward(dy: Tensor, ctx: Context): Tensor {
    const batch = this.batch;
    const [h, w, c] = this.inShape;
    const dx = tensor([batch, h, w, c]);
    if (this.mode === 'max') {
      const argmax = this.argmax;
      if (!argmax) throw new Error('maxpool.backward before a training forward pass');
      const [oh, ow] = this.outShape;
      ctx.kernels.maxPoolGrad(dy.data, argmax, { batch, h, w, c, k: this.size, stride: this.stride, pad: 0, oh, ow }, dx.data);
      this.argmax = null;
      return dx;
    }
    const [oh, ow] = this.outShape;
    const { size: s, stride } = this;
    const inv = 1 / (s * s);
    let o = 0;
    for (let n = 0; n < batch; n++) {
      const img = n * h * w * c;
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++)
          for (let ch = 0; ch < c; ch++, o++) {
            const g = dy.data[o] * inv;
            for (let ky = 0; ky < s; ky++)
              for (let kx = 0; kx < s; kx++) dx.data[img + ((oy * stride + ky) * w + ox * stride + kx) * c + ch] += g;
          }
    }
    return dx;
  }
}

/** Mean over height and width of NHWC images: [h, w, c] -> [c]. Runs in the digital periphery. */
export class GlobalAvgPool implements Layer {
  readonly spec: LayerSpec = { type: 'globalavgpool' };
  readonly outShape: number[];
  readonly params = [];
  private batch = 0;
  constructor(readonly inShape: number[]) {
    if (inShape.length !== 3) throw new RangeError(`globalavgpool needs an image input [h, w, c], got [${inShape}]`);
    this.outShape = [inShape[2]];
  }
  forward(x: Tensor, ctx: Context): Tensor {
    const batch = x.shape[0];
    const [h, w, c] = this.inShape;
    const y = tensor([batch, c]);
    ctx.kernels.channelMeans(x.data, h * w, c, y.data);
    if (ctx.training) this.batch = batch;
    return y;
  }
  backward(dy: Tensor): Tensor {
    const batch = this.batch;
    const [h, w, c] = this.inShape;
    const hw = h * w;
    const dx = tensor([batch, h, w, c]);
    for (let n = 0; n < batch; n++)
      for (let p = 0; p < hw; p++) for (let ch = 0; ch < c; ch++) dx.data[(n * hw + p) * c + ch] = dy.data[n * c + ch] / hw;
    return dx;
  }
}
