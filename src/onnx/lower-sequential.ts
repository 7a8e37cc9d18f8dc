import { XbarError } from '../core/errors.js';
import type { LayerSpec } from '../nn/layer.js';
import type { ModelSpec } from '../nn/spec.js';
import type { NetGraph, NetNode, Shape } from './net.js';

/** A sequential xbar model: its spec and one array per parameter, in buildModel's order. */
export interface Lowered {
  spec: ModelSpec;
  weights: Float32Array[];
}

/**
 * Lowers a chain-shaped network onto xbar's sequential format, converting ONNX's NCHW layout to
 * xbar's NHWC once, here:
 * - a convolution's OIHW weight becomes the crossbar matrix [k*k*C, filters], row (ky*k + kx)*C + c;
 * - the first dense layer after a flatten gets its rows permuted from ONNX's flatten order
 *   (c, h, w) to xbar's (h, w, c), so the same weights see the same pixels;
 * - global average pooling over an HxH map is an average pool of size H.
 * Returns null for a network that is not a chain (a residual Add, a Concat): lower-graph.ts takes it.
 */
export function lowerSequential(g: NetGraph, source: string): Lowered | null {
  const layers: LayerSpec[] = [];
  const weights: Float32Array[] = [];
  let shape: Shape = g.input.shape;
  let cur = g.input.name;
  /** The [C, H, W] a vector was flattened from, until the dense layer that reads it. */
  let flatFrom: Shape | null = null;
  let inputShape: [number, number, number];
  if (shape.length === 3) inputShape = [shape[1], shape[2], shape[0]];
  else {
    inputShape = [1, 1, shape[0]];
    layers.push({ type: 'flatten' });
  }
  const byInput = new Map<string, NetNode[]>();
  for (const n of g.nodes) for (const i of n.inputs) byInput.set(i, [...(byInput.get(i) ?? []), n]);
  const done = new Set<NetNode>();
  for (const n of g.nodes) {
    if (done.has(n)) continue;
    const readers = byInput.get(cur) ?? [];
    const comp = n.op === 'mul' ? matchCompensation(n, cur, byInput, shape) : null;
    if (comp) {
      layers.push(comp.layer);
      weights.push(...comp.weights);
      for (const m of comp.nodes) done.add(m);
      cur = comp.output;
      continue;
    }
    if (n.inputs.length !== 1 || n.inputs[0] !== cur || readers.length !== 1) return null;
    const where = `${source}: node '${n.name}'`;
    switch (n.op) {
      case 'conv': {
        const [kh, kw] = n.kernel;
        if (kh !== kw || n.stride[0] !== n.stride[1])
          throw new XbarError(
            `${where}: convolution ${kh}x${kw} with strides [${n.stride}]: xbar's layers have square kernels and strides`,
          );
        const padding = convPadding(n.pads, kh, where);
        layers.push({ type: 'conv2d', filters: n.filters, kernel: kh, stride: n.stride[0], padding, ...(!n.hasBias && { bias: false }) });
        weights.push(convToCrossbar(n.weight, n.filters, shape[0], kh), ...(n.hasBias ? [n.bias] : []));
        break;
      }
      case 'dense': {
        const w = flatFrom ? permuteRowsChwToHwc(n.weight, flatFrom, n.units) : n.weight;
        layers.push({ type: 'dense', units: n.units });
        weights.push(w, n.bias);
        flatFrom = null;
        break;
      }
      case 'activation':
        layers.push(activationSpec(n));
        break;
      case 'batchnorm':
        if (flatFrom) throw new XbarError(`${where}: a batch norm between a flatten and a dense layer: xbar cannot reorder its channels`);
        layers.push(batchNormSpec(n));
        weights.push(n.gamma, n.beta, n.mean, n.variance);
        break;
      case 'maxpool':
      case 'avgpool': {
        const [kh, kw] = n.kernel;
        if (kh !== kw || n.stride[0] !== n.stride[1] || n.pads.some((p) => p !== 0))
          throw new XbarError(
            `${where}: ${n.op} ${kh}x${kw}, strides [${n.stride}], pads [${n.pads}]: xbar's pools are square, unpadded, with equal strides`,
          );
        layers.push({ type: n.op, size: kh, stride: n.stride[0] });
        break;
      }
      case 'globalavgpool':
        if (shape[1] !== shape[2])
          throw new XbarError(`${where}: global average pooling of a ${shape[1]}x${shape[2]} map: xbar pools square maps`);
        layers.push({ type: 'avgpool', size: shape[1], stride: shape[1] });
        break;
      case 'flatten':
        layers.push({ type: 'flatten' });
        flatFrom = shape;
        break;
      default:
        throw new XbarError(`${where} (${n.op}) has no layer in xbar's sequential format`);
    }
    shape = n.shape;
    cur = n.output;
  }
  if (cur !== g.output) throw new XbarError(`${source}: the graph output '${g.output}' is not the end of the chain`);
  if (shape.length !== 1) throw new XbarError(`${source}: the network ends in a [${shape}] tensor, xbar needs class scores [classes]`);
  return { spec: { inputShape, layers }, weights };
}

/**
 * A compensation module (nn/compensation.ts) as export.ts writes it: x * scale, + x, + shift, and
 * for rank > 0 + up(relu(down(x))) with down/up convolutions (images) or dense layers (vectors).
 */
function matchCompensation(
  mul: Extract<NetNode, { op: 'mul' }>,
  x: string,
  byInput: Map<string, NetNode[]>,
  shape: Shape,
): { layer: LayerSpec; weights: Float32Array[]; nodes: NetNode[]; output: string } | null {
  const only = (t: string): NetNode | null => {
    const r = byInput.get(t) ?? [];
    return r.length === 1 ? r[0] : null;
  };
  const readers = byInput.get(x) ?? [];
  const plusX = only(mul.output);
  if (mul.inputs[0] !== x || !plusX || plusX.op !== 'add' || !plusX.inputs.includes(x)) return null;
  const shift = only(plusX.output);
  if (shift?.op !== 'shift') return null;
  const c = mul.data.length;
  const image = shape.length === 3;
  if (readers.length === 2)
    return { layer: { type: 'compensation', rank: 0 }, weights: [mul.data, shift.data], nodes: [mul, plusX, shift], output: shift.output };
  const down = readers.find((r) => r !== mul && r !== plusX);
  if (readers.length !== 3 || !down) return null;
  const relu = only(down.output);
  const up = relu && relu.op === 'activation' && relu.fn === 'relu' ? only(relu.output) : null;
  const sum = up ? only(up.output) : null;
  if (!up || !sum || sum.op !== 'add' || !sum.inputs.includes(shift.output) || only(shift.output) !== sum) return null;
  if (image && down.op === 'conv' && up.op === 'conv') {
    const k = down.kernel[0];
    const r = down.filters;
    const same = down.kernel[1] === k && k % 2 === 1 && down.pads.every((p) => p === (k - 1) / 2) && down.stride.every((s) => s === 1);
    if (!same || up.kernel.join() !== '1,1' || up.filters !== c || up.stride.some((s) => s !== 1)) return null;
    return {
      layer: k === 1 ? { type: 'compensation', rank: r } : { type: 'compensation', rank: r, kernel: k },
      weights: [mul.data, shift.data, convToCrossbar(down.weight, r, c, k), down.bias, convToCrossbar(up.weight, c, r, 1), up.bias],
      nodes: [mul, plusX, shift, down, relu!, up, sum],
      output: sum.output,
    };
  }
  if (!image && down.op === 'dense' && up.op === 'dense' && up.units === c)
    return {
      layer: { type: 'compensation', rank: down.units },
      weights: [mul.data, shift.data, down.weight, down.bias, up.weight, up.bias],
      nodes: [mul, plusX, shift, down, relu!, up, sum],
      output: sum.output,
    };
  return null;
}

export function activationSpec(n: Extract<NetNode, { op: 'activation' }>): LayerSpec {
  if (n.fn === 'crelu') return { type: 'activation', fn: 'crelu', cap: n.cap };
  if (n.fn === 'leakyrelu') return { type: 'activation', fn: 'leakyrelu', alpha: n.alpha };
  return { type: 'activation', fn: n.fn };
}

/** xbar's batchnorm layer (parameters gamma, beta, running mean, running variance). */
export function batchNormSpec(n: Extract<NetNode, { op: 'batchnorm' }>): LayerSpec {
  return n.eps === 1e-5 ? { type: 'batchnorm' } : { type: 'batchnorm', eps: n.eps };
}

function convPadding(pads: readonly number[], k: number, where: string): 'same' | 'valid' {
  if (pads.every((p) => p === 0)) return 'valid';
  if (k % 2 === 1 && pads.every((p) => p === (k - 1) / 2)) return 'same';
  throw new XbarError(
    `${where}: convolution pads [${pads}] with kernel ${k}: xbar's sequential format pads 0 ('valid') or (k-1)/2 on every side ('same')`,
  );
}

/** ONNX OIHW [f, c, k, k] -> xbar's crossbar matrix [k*k*c, f], row (ky*k + kx)*c + ch. */
export function convToCrossbar(w: Float32Array, f: number, c: number, k: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let o = 0; o < f; o++)
    for (let ch = 0; ch < c; ch++)
      for (let ky = 0; ky < k; ky++)
        for (let kx = 0; kx < k; kx++) out[((ky * k + kx) * c + ch) * f + o] = w[((o * c + ch) * k + ky) * k + kx];
  return out;
}

/** The inverse of convToCrossbar. */
export function crossbarToConv(m: Float32Array, f: number, c: number, k: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let o = 0; o < f; o++)
    for (let ch = 0; ch < c; ch++)
      for (let ky = 0; ky < k; ky++)
        for (let kx = 0; kx < k; kx++) out[((o * c + ch) * k + ky) * k + kx] = m[((ky * k + kx) * c + ch) * f + o];
  return out;
}

/** Rows of a [C*H*W, out] matrix from ONNX's flatten order (c, h, w) to xbar's (h, w, c). */
export function permuteRowsChwToHwc(w: Float32Array, chw: Shape, out: number): Float32Array {
  const [c, h, wd] = chw;
  const r = new Float32Array(w.length);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < wd; x++)
        r.set(w.subarray(((ch * h + y) * wd + x) * out, ((ch * h + y) * wd + x + 1) * out), ((y * wd + x) * c + ch) * out);
  return r;
}

/** The inverse of permuteRowsChwToHwc. */
export function permuteRowsHwcToChw(w: Float32Array, chw: Shape, out: number): Float32Array {
  const [c, h, wd] = chw;
  const r = new Float32Array(w.length);
  for (let ch = 0; ch < c; ch++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < wd; x++)
        r.set(w.subarray(((y * wd + x) * c + ch) * out, ((y * wd + x) * c + ch + 1) * out), ((ch * h + y) * wd + x) * out);
  return r;
}
