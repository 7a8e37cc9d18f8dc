import { XbarError } from '../core/errors.js';
import type { LayerSpec } from '../nn/layer.js';
import { GRAPH_INPUT, type GraphSpec, NODE_NAME, type NodeSpec } from '../nn/spec.js';
import { activationSpec, batchNormSpec, convToCrossbar, type Lowered, permuteRowsChwToHwc } from './lower-sequential.js';
import type { NetGraph, Shape } from './net.js';

/**
 * Lowers any network onto xbar's graph format (spec.nodes): one named node per intermediate
 * node, wired by name, with the same NCHW -> NHWC conversions as the sequential lowering (conv
 * weights to crossbar matrices, the dense layer after a flatten permuted to (h, w, c) rows).
 * Residual Adds and channel Concats become `add` and `concat` nodes; global average pooling
 * becomes `globalavgpool`, whose output is already the flat [C] vector.
 */
export function lowerGraph(g: NetGraph, source: string): Lowered {
  const names = new Map<string, string>([[g.input.name, GRAPH_INPUT]]);
  const used = new Set<string>([GRAPH_INPUT]);
  const nodes: NodeSpec[] = [];
  const weights: Float32Array[] = [];
  const shapes = new Map<string, Shape>([[g.input.name, g.input.shape]]);
  /** A vector that is a flattened [C, H, W] map (through element-wise nodes), until a dense reads it. */
  const flatFrom = new Map<string, Shape>();
  const isGap = new Set<string>();
  let inputShape: [number, number, number];
  const s = g.input.shape;
  if (s.length === 3) inputShape = [s[1], s[2], s[0]];
  else {
    inputShape = [1, 1, s[0]];
    const flat = unique('input_flatten', used);
    nodes.push({ name: flat, type: 'flatten', inputs: [GRAPH_INPUT] });
    names.set(g.input.name, flat);
  }
  for (const n of g.nodes) {
    const where = `${source}: node '${n.name}'`;
    const name = unique(sanitize(n.name), used);
    const inputs = n.inputs.map((t) => {
      const m = names.get(t);
      if (!m) throw new Error(`lowerGraph: '${t}' read before it is computed`);
      return m;
    });
    const x = shapes.get(n.inputs[0])!;
    let spec: LayerSpec;
    switch (n.op) {
      case 'conv': {
        const [kh, kw] = n.kernel;
        const p = n.pads[0];
        if (kh !== kw || n.stride[0] !== n.stride[1] || n.pads.some((q) => q !== p) || p >= kh)
          throw new XbarError(
            `${where}: convolution ${kh}x${kw}, strides [${n.stride}], pads [${n.pads}]: xbar's convolutions are square with equal strides and the same padding on every side, smaller than the kernel`,
          );
        if (isGap.has(n.inputs[0]))
          throw new XbarError(`${where}: a convolution after global average pooling: xbar's global pooling gives a vector`);
        spec = {
          type: 'conv2d',
          filters: n.filters,
          kernel: kh,
          stride: n.stride[0],
          ...(p > 0 && { pad: p }),
          ...(!n.hasBias && { bias: false }),
        };
        weights.push(convToCrossbar(n.weight, n.filters, x[0], kh), ...(n.hasBias ? [n.bias] : []));
        break;
      }
      case 'dense': {
        const from = flatFrom.get(n.inputs[0]);
        spec = { type: 'dense', units: n.units };
        weights.push(from ? permuteRowsChwToHwc(n.weight, from, n.units) : n.weight, n.bias);
        break;
      }
      case 'activation':
        spec = activationSpec(n);
        break;
      case 'batchnorm':
        if (flatFrom.has(n.inputs[0]))
          throw new XbarError(`${where}: a batch norm between a flatten and a dense layer: xbar cannot reorder its channels`);
        spec = batchNormSpec(n);
        weights.push(n.gamma, n.beta, n.mean, n.variance);
        break;
      case 'maxpool':
      case 'avgpool': {
        const [kh, kw] = n.kernel;
        if (kh !== kw || n.stride[0] !== n.stride[1] || n.pads.some((q) => q !== 0))
          throw new XbarError(
            `${where}: ${n.op} ${kh}x${kw}, strides [${n.stride}], pads [${n.pads}]: xbar's pools are square, unpadded, with equal strides`,
          );
        spec = { type: n.op, size: kh, stride: n.stride[0] };
        break;
      }
      case 'globalavgpool':
        spec = { type: 'globalavgpool' };
        isGap.add(n.output);
        break;
      case 'flatten':
        if (isGap.has(n.inputs[0])) {
          // xbar's global pool already gives the vector ONNX flattens [C, 1, 1] to.
          names.set(n.output, inputs[0]);
          shapes.set(n.output, n.shape);
          used.delete(name);
          continue;
        }
        spec = { type: 'flatten' };
        if (x.length === 3 && !isGap.has(n.inputs[0]) && x[0] > 1 && x[1] * x[2] > 1) flatFrom.set(n.output, x);
        break;
      case 'add':
        spec = { type: 'add' };
        break;
      case 'concat':
        spec = { type: 'concat' };
        break;
      default:
        throw new XbarError(`${where} (${n.op}) has no node in xbar's graph format`);
    }
    if ((n.op === 'activation' || n.op === 'add') && flatFrom.has(n.inputs[0])) flatFrom.set(n.output, flatFrom.get(n.inputs[0])!);
    if ((n.op === 'activation' || n.op === 'batchnorm') && isGap.has(n.inputs[0])) isGap.add(n.output);
    nodes.push({ ...spec, name, inputs } as NodeSpec);
    names.set(n.output, name);
    shapes.set(n.output, n.shape);
  }
  const last = names.get(g.output);
  if (last !== nodes[nodes.length - 1]?.name) throw new XbarError(`${source}: the graph output '${g.output}' is not its last node`);
  const out = shapes.get(g.output)!;
  if (out.length !== 1 && !isGap.has(g.output))
    throw new XbarError(`${source}: the network ends in a [${out}] tensor, xbar needs class scores [classes]`);
  const spec: GraphSpec = { inputShape, nodes };
  return { spec, weights };
}

function sanitize(name: string): string {
  const s = name
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^[_\d-]+/, '')
    .replace(/_+$/, '');
  return s && NODE_NAME.test(s) ? s : 'node';
}

function unique(base: string, used: Set<string>): string {
  let name = base;
  for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
  used.add(name);
  return name;
}
