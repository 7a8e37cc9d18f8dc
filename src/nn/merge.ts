import type { Context, LayerSpec, MergeLayer } from './layer.js';
import { size, type Tensor, tensor } from './tensor.js';

function checkInputs(kind: string, inShapes: number[][]): void {
  if (inShapes.length < 2) throw new RangeError(`${kind} needs at least 2 inputs, got ${inShapes.length}`);
}

/**
 * Element-wise sum of two or more inputs of one shape: a residual shortcut. On a chip it is an
 * addition in the digital periphery, after each input's own arrays.
 */
export class Add implements MergeLayer {
  readonly spec: LayerSpec = { type: 'add' };
  readonly inShape: number[];
  readonly outShape: number[];
  readonly params = [];
  constructor(readonly inShapes: number[][]) {
    checkInputs('add', inShapes);
    const key = inShapes[0].join('x');
    const other = inShapes.find((s) => s.join('x') !== key);
    if (other) throw new RangeError(`add needs inputs of one shape, got [${inShapes[0]}] and [${other}]`);
    this.inShape = inShapes[0];
    this.outShape = inShapes[0];
  }
  forward(): Tensor {
    throw new Error('add: call merge() with its inputs');
  }
  backward(): Tensor {
    throw new Error('add: call split()');
  }
  merge(xs: Tensor[]): Tensor {
    const y = tensor(xs[0].shape.slice(), xs[0].data.slice());
    for (let k = 1; k < xs.length; k++) {
      const v = xs[k].data;
      for (let i = 0; i < v.length; i++) y.data[i] += v[i];
    }
    return y;
  }
  /** Every input gets dy; the graph copies before it accumulates, so sharing it is safe. */
  split(dy: Tensor): Tensor[] {
    return this.inShapes.map(() => dy);
  }
}

/** Joins inputs along the channel (last) axis: NHWC images of one height and width, or vectors. */
export class Concat implements MergeLayer {
  readonly spec: LayerSpec = { type: 'concat' };
  readonly inShape: number[];
  readonly outShape: number[];
  readonly params = [];
  private readonly channels: number[];
  constructor(readonly inShapes: number[][]) {
    checkInputs('concat', inShapes);
    const lead = (s: number[]) => s.slice(0, -1).join('x');
    const other = inShapes.find((s) => s.length !== inShapes[0].length || lead(s) !== lead(inShapes[0]));
    if (other) throw new RangeError(`concat needs inputs that differ only in channels, got [${inShapes[0]}] and [${other}]`);
    this.channels = inShapes.map((s) => s[s.length - 1]);
    this.inShape = inShapes[0];
    this.outShape = [...inShapes[0].slice(0, -1), this.channels.reduce((a, b) => a + b, 0)];
  }
  forward(): Tensor {
    throw new Error('concat: call merge() with its inputs');
  }
  backward(): Tensor {
    throw new Error('concat: call split()');
  }
  merge(xs: Tensor[], _ctx?: Context): Tensor {
    const batch = xs[0].shape[0];
    const y = tensor([batch, ...this.outShape]);
    const c = this.outShape[this.outShape.length - 1];
    const pixels = batch * (size(this.outShape) / c);
    let off = 0;
    xs.forEach((x, k) => {
      const ck = this.channels[k];
      for (let p = 0; p < pixels; p++) y.data.set(x.data.subarray(p * ck, (p + 1) * ck), p * c + off);
      off += ck;
    });
    return y;
  }
  split(dy: Tensor): Tensor[] {
    const batch = dy.shape[0];
    const c = this.outShape[this.outShape.length - 1];
    const pixels = batch * (size(this.outShape) / c);
    let off = 0;
    return this.inShapes.map((s, k) => {
      const ck = this.channels[k];
      const dx = tensor([batch, ...s]);
      for (let p = 0; p < pixels; p++) dx.data.set(dy.data.subarray(p * c + off, p * c + off + ck), p * ck);
      off += ck;
      return dx;
    });
  }
}
