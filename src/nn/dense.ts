import type { Rng } from '../core/rng.js';
import { type Context, type Layer, type LayerSpec, wantsGrad } from './layer.js';
import { fillRows, type Param, param, type Tensor, tensor } from './tensor.js';

/**
 * Fully connected layer y = x W + b with W stored [in, out]: rows are inputs and columns are
 * outputs, the same orientation as a crossbar (word lines in, bit lines out).
 */
export class Dense implements Layer {
  readonly spec: LayerSpec;
  readonly outShape: number[];
  readonly params: Param[];
  readonly weight: Param;
  readonly bias: Param;
  private input: Tensor | null = null;

  constructor(
    readonly inShape: number[],
    units: number,
    prefix: string,
    rng: Rng,
    fanInActivation: 'relu' | 'other',
  ) {
    if (inShape.length !== 1) throw new RangeError(`dense layer needs a flat input, got shape [${inShape}]: add a flatten layer`);
    this.spec = { type: 'dense', units };
    this.outShape = [units];
    const nIn = inShape[0];
    this.weight = param(`${prefix}.weight`, [nIn, units]);
    this.bias = param(`${prefix}.bias`, [units]);
    // He init for ReLU-family layers, Glorot otherwise: keeps activations' variance stable with depth.
    const std = fanInActivation === 'relu' ? Math.sqrt(2 / nIn) : Math.sqrt(2 / (nIn + units));
    rng.fillNormal(this.weight.value, 0, std);
    this.params = [this.weight, this.bias];
  }

  forward(x: Tensor, ctx: Context): Tensor {
    const batch = x.shape[0];
    const [nIn, nOut] = this.weight.shape;
    const y = tensor([batch, nOut]);
    fillRows(y.data, this.bias.value, batch);
    ctx.kernels.sgemm(false, false, batch, nOut, nIn, 1, x.data, nIn, this.weight.value, nOut, 1, y.data, nOut);
    if (ctx.training) this.input = x;
    return y;
  }

  backward(dy: Tensor, ctx: Context, needInputGrad = true): Tensor | null {
    const x = this.input;
    if (!x) throw new Error('dense.backward before a training forward pass');
    const batch = x.shape[0];
    const [nIn, nOut] = this.weight.shape;
    if (wantsGrad(ctx, this.weight))
      ctx.kernels.sgemm(true, false, nIn, nOut, batch, 1, x.data, nIn, dy.data, nOut, 1, this.weight.grad, nOut);
    if (wantsGrad(ctx, this.bias)) ctx.kernels.columnSums(dy.data, batch, this.bias.grad);
    this.input = null;
    if (!needInputGrad) return null;
    const dx = tensor([batch, nIn]);
    ctx.kernels.sgemm(false, true, batch, nIn, nOut, 1, dy.data, nOut, this.weight.value, nOut, 0, dx.data, nIn);
    return dx;
  }
}
