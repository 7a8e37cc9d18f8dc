import type { ConvThen, Kernels, WindowGeometry } from '../core/kernels.js';
import type { Rng } from '../core/rng.js';
import { type Context, type Layer, type LayerSpec, wantsGrad } from './layer.js';
import { fillRows, type Param, param, type Tensor, tensor } from './tensor.js';

type Geometry = Omit<WindowGeometry, 'batch'>;

/**
 * Where a frozen layer's input gradient runs through convInputGrad rather than a GEMM and
 * col2im: few filters (the GEMM's inner dimension, so that its unrolled rows are memory-bound) and
 * rows long enough to fill the kernel's registers. bench/conv-input-grad.mjs, one core, under load:
 * LeNet-5's second convolution (150-float rows, 16 filters) 1.2x faster with no zeros in dy and
 * 5.9x with 75%; 3x3 convolutions of 64 and 128 filters faster only with many zeros (0.3-0.8x
 * with none); rows of 27 floats 2-4x slower.
 */
export const CONV_INPUT_GRAD_MAX_FILTERS = 32;
export const CONV_INPUT_GRAD_MIN_ROW = 64;

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
  /** A training forward pass ran and its backward has not (cols is null for a frozen layer). */
  private passed = false;
  /** The input gradient's unrolled rows (backward). */
  private dscratch: Float32Array | null = null;
  /** 1x1 kernel, stride 1: the receptive-field rows are the input's pixels. */
  private readonly pointwise: boolean;

  constructor(
    readonly inShape: number[],
    filters: number,
    kernel: number,
    stride: number,
    padding: 'same' | 'valid' | number,
    prefix: string,
    rng: Rng,
    withBias = true,
  ) {
    if (inShape.length !== 3) throw new RangeError(`conv2d needs an image input [h, w, c], got [${inShape}]`);
    if (padding === 'same' && kernel % 2 === 0) throw new RangeError(`conv2d 'same' padding needs an odd kernel, got ${kernel}`);
    const [h, w, c] = inShape;
    const pad = typeof padding === 'number' ? padding : padding === 'same' ? (kernel - 1) / 2 : 0;
    if (pad >= kernel) throw new RangeError(`conv2d pad ${pad} must be smaller than its kernel ${kernel}`);
    const oh = Math.floor((h + 2 * pad - kernel) / stride) + 1;
    const ow = Math.floor((w + 2 * pad - kernel) / stride) + 1;
    if (oh < 1 || ow < 1) throw new RangeError(`conv2d kernel ${kernel} does not fit a ${h}x${w} input`);
    this.geom = { h, w, c, k: kernel, stride, pad, oh, ow };
    this.pointwise = kernel === 1 && stride === 1 && pad === 0;
    this.spec = {
      type: 'conv2d',
      filters,
      kernel,
      stride,
      ...(typeof padding === 'number' ? { pad: padding } : { padding }),
      ...(!withBias && { bias: false }),
    };
    this.outShape = [oh, ow, filters];
    const fanIn = kernel * kernel * c;
    this.weight = param(`${prefix}.weight`, [fanIn, filters]);
    // Without a bias the zero array stays (the crossbar's bias row reads it) but is neither trained nor saved.
    this.bias = param(`${prefix}.bias`, [filters]);
    rng.fillNormal(this.weight.value, 0, Math.sqrt(2 / fanIn));
    this.params = withBias ? [this.weight, this.bias] : [this.weight];
  }

  /**
   * Unrolls every receptive field of the batch into one row, zero where the window hangs over the
   * padding. Within one kernel row the valid pixels are contiguous in the input, so each is one
   * straight copy. The buffer is reused while the batch size stays the same (padding cells are
   * never written, so they stay zero). A 1x1 convolution with stride 1 reads its input as is.
   */
  im2col(x: Float32Array, batch: number, kernels: Kernels): Float32Array {
    const { c, k, oh, ow } = this.geom;
    if (this.pointwise) return x;
    const need = batch * oh * ow * k * k * c;
    if (this.scratch?.length !== need) this.scratch = new Float32Array(need);
    kernels.im2col(x, { batch, ...this.geom }, this.scratch);
    return this.scratch;
  }

  /**
   * y [batch*oh*ow, filters] = the convolution of images x with weights w (its first k*k*c*filters
   * floats, laid out as `weight`) plus bias: the inference product that software and the crossbar
   * simulator share, so that an ideal chip gives the software outputs bit for bit. A 1x1
   * convolution with stride 1 is one GEMM of its input as it is; any other runs through the conv2d
   * kernel, which never forms the unrolled rows. `then`: an addition and a clamp applied to the
   * output as separate passes would (Kernels.conv2d).
   */
  product(
    x: Float32Array,
    batch: number,
    kernels: Kernels,
    w: Float32Array,
    bias: Float32Array,
    y: Float32Array,
    then?: ConvThen,
  ): Float32Array {
    const [rowLen, f] = this.weight.shape;
    if (!this.pointwise) {
      kernels.conv2d(x, { batch, ...this.geom }, w, bias, y, then);
      return y;
    }
    const rows = batch * this.geom.oh * this.geom.ow;
    fillRows(y, bias, rows);
    kernels.sgemm(false, false, rows, f, rowLen, 1, x, rowLen, w, f, 1, y, f);
    const add = then?.add;
    if (add) for (let i = 0; i < rows * f; i++) y[i] += add[i];
    if (then?.lo !== undefined || then?.hi !== undefined)
      kernels.clamp(y.subarray(0, rows * f), then.lo ?? Number.NEGATIVE_INFINITY, then.hi ?? Number.POSITIVE_INFINITY);
    return y;
  }

  /**
   * `out`: where to write the output (its exact size), for a caller that owns and reuses it
   * (a compensation module's hidden units); a fresh array otherwise. Every value is overwritten.
   */
  forward(x: Tensor, ctx: Context, out?: Float32Array): Tensor {
    const batch = x.shape[0];
    const y = tensor([batch, ...this.outShape], out);
    // A frozen layer (per-chip calibration, modules trained on a fixed network) needs no unrolled
    // rows for backward, only its weights: it runs the inference product, which never forms them.
    const frozen = ctx.training && !this.params.some((p) => wantsGrad(ctx, p));
    if (!ctx.training || frozen) {
      this.product(x.data, batch, ctx.kernels, this.weight.value, this.bias.value, y.data);
      this.batch = batch;
      this.cols = null;
      this.passed = ctx.training;
      return y;
    }
    // Training keeps the unrolled rows for backward.
    const [rowLen, f] = this.weight.shape;
    const rows = batch * this.geom.oh * this.geom.ow;
    const cols = this.im2col(x.data, batch, ctx.kernels);
    fillRows(y.data, this.bias.value, rows);
    ctx.kernels.sgemm(false, false, rows, f, rowLen, 1, cols, rowLen, this.weight.value, f, 1, y.data, f);
    this.cols = cols;
    this.batch = batch;
    this.passed = true;
    return y;
  }

  /** `out`: where to write the input gradient (its exact size, overwritten), as forward's. */
  backward(dy: Tensor, ctx: Context, needInputGrad = true, out?: Float32Array): Tensor | null {
    if (!this.passed) throw new Error('conv2d.backward before a training forward pass');
    this.passed = false;
    const cols = this.cols;
    const batch = this.batch;
    const [rowLen, f] = this.weight.shape;
    const rows = batch * this.geom.oh * this.geom.ow;
    const dyv = dy.data;
    if (wantsGrad(ctx, this.weight)) {
      if (!cols) throw new Error('conv2d.backward: the forward pass kept no unrolled rows');
      ctx.kernels.sgemm(true, false, rowLen, f, rows, 1, cols, rowLen, dyv, f, 1, this.weight.grad, f);
    }
    if (this.params.includes(this.bias) && wantsGrad(ctx, this.bias)) ctx.kernels.columnSums(dyv, rows, this.bias.grad);
    this.cols = null;
    if (!needInputGrad) return null;
    if (this.pointwise) {
      const dx = tensor([batch, ...this.inShape], out);
      ctx.kernels.sgemm(false, true, rows, rowLen, f, 1, dyv, f, this.weight.value, f, 0, dx.data, rowLen);
      return dx;
    }
    // A frozen layer kept no unrolled rows (forward ran the inference product): with few filters
    // and long rows its input gradient is formed window by window, skipping the zeros pooling and
    // ReLUs leave in dy (convInputGrad), instead of writing and reading back the unrolled rows.
    if (!cols && f <= CONV_INPUT_GRAD_MAX_FILTERS && rowLen >= CONV_INPUT_GRAD_MIN_ROW) {
      const dx = tensor([batch, ...this.inShape], out);
      ctx.kernels.convInputGrad(dyv, { batch, ...this.geom }, this.weight.value, dx.data);
      return dx;
    }
    // The unrolled gradient rows, in a buffer kept between steps (k*k times the images: MiBs per
    // batch, which a fresh array would zero every step); sgemm overwrites it (beta 0).
    if (this.dscratch?.length !== rows * rowLen) this.dscratch = new Float32Array(rows * rowLen);
    const dcols = this.dscratch;
    ctx.kernels.sgemm(false, true, rows, rowLen, f, 1, dyv, f, this.weight.value, f, 0, dcols, rowLen);
    const dx = tensor([batch, ...this.inShape], out);
    if (out) out.fill(0);
    ctx.kernels.col2im(dcols, { batch, ...this.geom }, dx.data);
    return dx;
  }
}
