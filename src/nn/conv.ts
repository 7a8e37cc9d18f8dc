import type { Kernels, WindowGeometry } from '../core/kernels.js';
import type { Rng } from '../core/rng.js';
import type { Context, Layer, LayerSpec } from './layer.js';
import { fillRows, type Param, param, type Tensor, tensor } from './tensor.js';

type Geometry = Omit<WindowGeometry, 'batch'>;

/**
 * 2-D convolution on NHWC images, computed as im2col + one GEMM. The weight is stored
 * [k*k*C, filters] (row = (ky*k + kx)*C + c): each filter is one crossbar column and each
 * receptive-field pixel one row, which is how a convolution is unrolled onto an array.
 */
export class Conv2d implements Layer {
  readonly spec: LayerSpec;
  readonly outShape: number[];
  readonly params: Param[];
  readonly weight: Param;
  readonly bias: Param;
  readonly geom: Geometry;
  private cols: Float32Array | null = null;
  private scratch: Float32Array | null = null;
  private batch = 0;

  constructor(
    readonly inShape: number[],
    filters: number,
    kernel: number,
    stride: number,
    padding: 'same' | 'valid',
    prefix: string,
    rng: Rng,
  ) {
    if (inShape.length !== 3) throw new RangeError(`conv2d needs an image input [h, w, c], got [${inShape}]`);
    if (padding === 'same' && kernel % 2 === 0) throw new RangeError(`conv2d 'same' padding needs an odd kernel, got ${kernel}`);
    const [h, w, c] = inShape;
    const pad = padding === 'same' ? (kernel - 1) / 2 : 0;
    const oh = Math.floor((h + 2 * pad - kernel) / stride) + 1;
    const ow = Math.floor((w + 2 * pad - kernel) / stride) + 1;
    if (oh < 1 || ow < 1) throw new RangeError(`conv2d kernel ${kernel} does not fit a ${h}x${w} input`);
    this.geom = { h, w, c, k: kernel, stride, pad, oh, ow };
    this.spec = { type: 'conv2d', filters, kernel, stride, padding };
    this.outShape = [oh, ow, filters];
    const fanIn = kernel * kernel * c;
    this.weight = param(`${prefix}.weight`, [fanIn, filters]);
    this.bias = param(`${prefix}.bias`, [filters]);
    rng.fillNormal(this.weight.value, 0, Math.sqrt(2 / fanIn));
    this.params = [this.weight, this.bias];
  }

  /**
   * Unrolls every receptive field of the batch into one row, zero where the window hangs over the
   * padding. Within one kernel row the valid pixels are contiguous in the input, so each is one
   * straight copy. The buffer is reused while the batch size stays the same (padding cells are
   * never written, so they stay zero).
   */
  im2col(x: Float32Array, batch: number, kernels: Kernels): Float32Array {
    const { c, k, oh, ow } = this.geom;
    const need = batch * oh * ow * k * k * c;
    if (this.scratch?.length !== need) this.scratch = new Float32Array(need);
    kernels.im2col(x, { batch, ...this.geom }, this.scratch);
    return this.scratch;
  }

  private col2im(dcols: Float32Array, batch: number): Float32Array {
    const { h, w, c } = this.geom;
    const dx = new Float32Array(batch * h * w * c);
    this.forEachSpan(batch, (src, dst, len) => {
      for (let t = 0; t < len; t++) dx[src + t] += dcols[dst + t];
    });
    return dx;
  }

  /** Calls fn(inputOffset, colsOffset, length) for every contiguous run of one receptive-field row (as im2col walks them). */
  private forEachSpan(batch: number, fn: (src: number, dst: number, len: number) => void): void {
    const { h, w, c, k, stride, pad, oh, ow } = this.geom;
    const rowLen = k * k * c;
    let r = 0;
    for (let n = 0; n < batch; n++) {
      const img = n * h * w * c;
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++, r += rowLen) {
          const x0 = ox * stride - pad;
          const kx0 = Math.max(0, -x0);
          const kx1 = Math.min(k, w - x0);
          if (kx1 <= kx0) continue;
          for (let ky = 0; ky < k; ky++) {
            const iy = oy * stride + ky - pad;
            if (iy < 0 || iy >= h) continue;
            fn(img + (iy * w + x0 + kx0) * c, r + (ky * k + kx0) * c, (kx1 - kx0) * c);
          }
        }
      }
    }
  }

  forward(x: Tensor, ctx: Context): Tensor {
    const batch = x.shape[0];
    const [rowLen, f] = this.weight.shape;
    const rows = batch * this.geom.oh * this.geom.ow;
    const cols = this.im2col(x.data, batch, ctx.kernels);
    const y = tensor([batch, ...this.outShape]);
    fillRows(y.data, this.bias.value, rows);
    ctx.kernels.sgemm(false, false, rows, f, rowLen, 1, cols, rowLen, this.weight.value, f, 1, y.data, f);
    if (ctx.training) {
      this.cols = cols;
      this.batch = batch;
    }
    return y;
  }

  backward(dy: Tensor, ctx: Context, needInputGrad = true): Tensor | null {
    const cols = this.cols;
    if (!cols) throw new Error('conv2d.backward before a training forward pass');
    const batch = this.batch;
    const [rowLen, f] = this.weight.shape;
    const rows = batch * this.geom.oh * this.geom.ow;
    ctx.kernels.sgemm(true, false, rowLen, f, rows, 1, cols, rowLen, dy.data, f, 1, this.weight.grad, f);
    const gb = this.bias.grad;
    for (let i = 0; i < rows; i++) for (let j = 0; j < f; j++) gb[j] += dy.data[i * f + j];
    this.cols = null;
    if (!needInputGrad) return null;
    const dcols = new Float32Array(rows * rowLen);
    ctx.kernels.sgemm(false, true, rows, rowLen, f, 1, dy.data, f, this.weight.value, f, 0, dcols, rowLen);
    return tensor([batch, ...this.inShape], this.col2im(dcols, batch));
  }
}
