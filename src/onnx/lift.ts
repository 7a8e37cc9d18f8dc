import { XbarError } from '../core/errors.js';
import type { NetGraph, NetNode, NetOp, Pads, Shape } from './net.js';
import type { AttributeProto, ModelProto, NodeProto, ValueInfoProto } from './proto.js';
import { type ConstTensor, constFromProto } from './tensor.js';

/** The ONNX operators xbar imports (docs/import.md has what each becomes). */
export const SUPPORTED_OPS = [
  'Conv',
  'Gemm',
  'MatMul',
  'Add',
  'Mul',
  'BatchNormalization',
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Tanh',
  'Clip',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Flatten',
  'Reshape',
  'Squeeze',
  'Concat',
  'Dropout',
  'Identity',
  'Softmax',
  'LogSoftmax',
  'Constant',
] as const;

export const MIN_OPSET = 11;
export const MAX_OPSET = 21;

export interface LiftOptions {
  /** The dataset's image [C, H, W]: fixes dynamic input dimensions and is checked against fixed ones. */
  imageShape?: [number, number, number];
  /** Names the file in error messages. */
  source: string;
  /** Keep batch norms as nodes instead of folding them (files xbar wrote: they come back bit for bit). */
  keepBatchNorm?: boolean;
}

/** The default-domain opset the model was exported with; refuses the ones xbar does not read. */
export function defaultOpset(model: ModelProto, source: string): number {
  const entry = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const v = Number(entry?.version ?? 0);
  if (!(v >= MIN_OPSET && v <= MAX_OPSET))
    throw new XbarError(
      `${source} uses ONNX opset ${v || '(none)'}: xbar imports opsets ${MIN_OPSET} to ${MAX_OPSET}; re-export with opset_version=17`,
    );
  return v;
}

/**
 * Lifts an ONNX model onto the intermediate network: constants bound, Identity and Dropout
 * removed, batch norm folded into the Conv or Gemm before it, MatMul + Add merged into one dense
 * node, Softmax at the output dropped (the argmax and so the accuracy are unchanged). Every shape
 * is inferred here, so a model that does not fit the dataset fails before anything is written.
 */
export function liftOnnx(model: ModelProto, opts: LiftOptions): NetGraph {
  const src = opts.source;
  defaultOpset(model, src);
  const g = model.graph!;
  const consts = new Map<string, ConstTensor>();
  for (const t of g.initializer ?? []) consts.set(t.name ?? '', constFromProto(t, 'initializer'));
  const inputs = (g.input ?? []).filter((i) => !consts.has(i.name ?? ''));
  if (inputs.length !== 1)
    throw new XbarError(
      `${src} has ${inputs.length} graph inputs (${inputs.map((i) => i.name).join(', ')}): xbar imports networks with one image input`,
    );
  if ((g.output ?? []).length !== 1)
    throw new XbarError(`${src} has ${(g.output ?? []).length} graph outputs: xbar imports networks with one output`);
  const input = { name: inputs[0].name ?? '', shape: inputShape(inputs[0], opts) };
  const net: NetGraph = { input, nodes: [], output: g.output![0].name ?? '', transformations: [] };
  const shapes = new Map<string, Shape>([[input.name, input.shape]]);
  if (input.shape.length === 1 && opts.imageShape) {
    // A flat input fed the dataset's images: the images come in as [C, H, W] and are flattened in
    // ONNX's order, which is how the exporter's user flattened them.
    const image = `${input.name}:image`;
    net.input = { name: image, shape: [...opts.imageShape] };
    net.nodes.push({ op: 'flatten', name: `${input.name}:flatten`, inputs: [image], output: input.name, shape: input.shape });
    shapes.set(image, net.input.shape);
  }
  const alias = new Map<string, string>();
  const producer = new Map<string, NetNode>();
  const readers = new Map<string, number>();
  const onnxNodes = g.node ?? [];
  for (const n of onnxNodes) for (const i of n.input ?? []) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
  readers.set(net.output, (readers.get(net.output) ?? 0) + 1);

  const real = (t: string): string => alias.get(t) ?? t;
  const shapeOf = (t: string, node: string): Shape => {
    const s = shapes.get(real(t));
    if (!s)
      throw new XbarError(
        `${src}: node '${node}' reads '${t}', which no earlier node computes: the graph is not in topological order or is corrupt`,
      );
    return s;
  };
  const push = (n: NodeProto, op: NetOp, inputsOf: string[], shape: Shape): NetNode => {
    const node = { ...op, name: nodeName(n), inputs: inputsOf.map(real), output: n.output![0], shape } as NetNode;
    net.nodes.push(node);
    shapes.set(node.output, shape);
    producer.set(node.output, node);
    return node;
  };
  /** The weighted node that alone computes `t`, whose output nothing else reads: safe to fold into. */
  const foldTarget = (t: string): Weighted | null => {
    const p = producer.get(real(t));
    if (!p || (p.op !== 'conv' && p.op !== 'dense')) return null;
    return readers.get(p.output) === 1 && readers.get(t) === 1 ? p : null;
  };
  const renameOutput = (node: NetNode, to: string): void => {
    producer.delete(node.output);
    node.output = to;
    producer.set(to, node);
    shapes.set(to, node.shape);
  };

  for (const n of onnxNodes) {
    const op = n.opType ?? '';
    const name = nodeName(n);
    const ins = n.input ?? [];
    const out = n.output?.[0] ?? '';
    if (n.domain && n.domain !== 'ai.onnx')
      throw new XbarError(
        `unsupported ONNX operator '${n.domain}.${op}' (node '${name}'): xbar imports ${SUPPORTED_OPS.join(', ')} from the default domain`,
      );
    const attr = attributes(n, src);
    const cst = (i: number): ConstTensor | null => {
      const t = ins[i];
      return t ? (consts.get(real(t)) ?? null) : null;
    };
    const needConst = (i: number, what: string): ConstTensor => {
      const c = cst(i);
      if (!c)
        throw new XbarError(
          `${src}: ${op} node '${name}' needs its ${what} ('${ins[i]}') as a constant initializer, it is computed at run time`,
        );
      return c;
    };
    switch (op) {
      case 'Constant': {
        const t = attr.tensor('value');
        if (t) consts.set(out, constFromProto(t, out));
        else if (attr.has('value_float')) consts.set(out, { dims: [], data: Float32Array.of(attr.float('value_float', 0)), ints: null });
        else if (attr.has('value_floats')) {
          const f = attr.floats('value_floats');
          consts.set(out, { dims: [f.length], data: Float32Array.from(f), ints: null });
        } else if (attr.has('value_int')) {
          const v = attr.int('value_int', 0);
          consts.set(out, { dims: [], data: Float32Array.of(v), ints: [v] });
        } else if (attr.has('value_ints')) {
          const v = attr.ints('value_ints');
          consts.set(out, { dims: [v.length], data: Float32Array.from(v), ints: v });
        } else throw new XbarError(`${src}: Constant node '${name}' has no value xbar reads (value, value_float(s), value_int(s))`);
        break;
      }
      case 'Identity':
      case 'Dropout': {
        const from = real(ins[0]);
        if (consts.has(from)) consts.set(out, consts.get(from)!);
        else {
          alias.set(out, from);
          if (out === net.output) net.output = from;
          net.transformations.push(`dropped ${op} node '${name}' (identity at inference)`);
        }
        break;
      }
      case 'Conv': {
        const x = shapeOf(ins[0], name);
        if (x.length !== 3) throw new XbarError(`${src}: Conv node '${name}' reads a [${x}] tensor, xbar convolves images [C, H, W]`);
        const w = needConst(1, 'weight');
        const [f, c, kh, kw] = w.dims;
        const group = attr.int('group', 1);
        if (group !== 1)
          throw new XbarError(`${src}: Conv node '${name}' has group ${group}: xbar imports ordinary convolutions (group 1) only`);
        if (w.dims.length !== 4 || c !== x[0])
          throw new XbarError(`${src}: Conv node '${name}' has weight [${w.dims}] for a ${x[0]}-channel input: the file is inconsistent`);
        const dil = attr.ints('dilations');
        if (dil.some((d) => d !== 1))
          throw new XbarError(`${src}: Conv node '${name}' has dilations [${dil}]: xbar imports dilation 1 only`);
        const stride = pair(attr.ints('strides'), [1, 1]);
        const pads = padsOf(attr, [kh, kw], stride, x, name, src);
        const b = cst(2);
        const bias = b ? b.data.slice() : new Float32Array(f);
        const shape = [f, outSize(x[1], kh, stride[0], pads[0] + pads[2]), outSize(x[2], kw, stride[1], pads[1] + pads[3])];
        if (shape[1] < 1 || shape[2] < 1)
          throw new XbarError(`${src}: Conv node '${name}' kernel ${kh}x${kw} does not fit its ${x[1]}x${x[2]} input`);
        push(
          n,
          { op: 'conv', weight: w.data.slice(), bias, hasBias: Boolean(b), filters: f, kernel: [kh, kw], stride, pads },
          [ins[0]],
          shape,
        );
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        const x = shapeOf(ins[0], name);
        if (x.length !== 1)
          throw new XbarError(`${src}: ${op} node '${name}' reads a [${x}] tensor: flatten it first (xbar's dense layers take vectors)`);
        const w = needConst(1, 'weight');
        const transA = attr.int('transA', 0);
        const transB = op === 'Gemm' ? attr.int('transB', 0) : 0;
        const alpha = attr.float('alpha', 1);
        const beta = attr.float('beta', 1);
        if (transA !== 0) throw new XbarError(`${src}: Gemm node '${name}' has transA=1: xbar imports x * W (transA=0) only`);
        if (w.dims.length !== 2) throw new XbarError(`${src}: ${op} node '${name}' has a [${w.dims}] weight, xbar needs a matrix`);
        const [nIn, nOut] = transB ? [w.dims[1], w.dims[0]] : w.dims;
        if (nIn !== x[0])
          throw new XbarError(`${src}: ${op} node '${name}' has weight [${w.dims}] for ${x[0]} inputs: the file is inconsistent`);
        const weight = transB ? transpose(w.data, w.dims[0], w.dims[1]) : w.data.slice();
        if (alpha !== 1) {
          for (let i = 0; i < weight.length; i++) weight[i] = Math.fround(weight[i] * alpha);
          net.transformations.push(`scaled Gemm node '${name}' weight by alpha=${alpha}`);
        }
        const bias = new Float32Array(nOut);
        const c = op === 'Gemm' ? cst(2) : null;
        if (op === 'Gemm' && ins[2] && !c) throw new XbarError(`${src}: Gemm node '${name}' needs its bias as a constant initializer`);
        if (c) {
          if (c.data.length !== nOut && c.data.length !== 1)
            throw new XbarError(`${src}: Gemm node '${name}' bias [${c.dims}] does not fit ${nOut} outputs`);
          for (let j = 0; j < nOut; j++) bias[j] = Math.fround(beta * c.data[c.data.length === 1 ? 0 : j]);
        }
        push(n, { op: 'dense', weight, bias, units: nOut }, [ins[0]], [nOut]);
        break;
      }
      case 'BatchNormalization': {
        const x = shapeOf(ins[0], name);
        const [scale, beta, mean, variance] = [1, 2, 3, 4].map((i) => needConst(i, ['scale', 'bias', 'mean', 'variance'][i - 1]));
        const eps = shortest(attr.float('epsilon', 1e-5));
        if (attr.int('training_mode', 0) !== 0)
          throw new XbarError(`${src}: BatchNormalization node '${name}' is in training mode: export the model in eval mode`);
        const target = opts.keepBatchNorm ? null : foldTarget(ins[0]);
        if (!target) {
          const bn = {
            op: 'batchnorm',
            gamma: scale.data.slice(),
            beta: beta.data.slice(),
            mean: mean.data.slice(),
            variance: variance.data.slice(),
            eps,
          } as const;
          push(n, bn, [ins[0]], x);
          break;
        }
        foldBatchNorm(target, x[0], scale.data, beta.data, mean.data, variance.data, eps);
        renameOutput(target, out);
        net.transformations.push(
          `folded BatchNormalization node '${name}' into ${target.op === 'conv' ? 'Conv' : 'Gemm'} node '${target.name}'`,
        );
        break;
      }
      case 'Relu':
      case 'Sigmoid':
      case 'Tanh':
        push(n, { op: 'activation', fn: op.toLowerCase() as 'relu' | 'sigmoid' | 'tanh' }, [ins[0]], shapeOf(ins[0], name));
        break;
      case 'LeakyRelu':
        push(n, { op: 'activation', fn: 'leakyrelu', alpha: shortest(attr.float('alpha', 0.01)) }, [ins[0]], shapeOf(ins[0], name));
        break;
      case 'Clip': {
        const lo = ins[1] ? needConst(1, 'min').data[0] : attr.float('min', Number.NEGATIVE_INFINITY);
        const hi = ins[2] ? needConst(2, 'max').data[0] : attr.float('max', Number.POSITIVE_INFINITY);
        if (lo !== 0 || !(hi > 0))
          throw new XbarError(`${src}: Clip node '${name}' clips to [${lo}, ${hi}]: xbar imports Clip(0, cap) (ReLU, ReLU6) only`);
        const shape = shapeOf(ins[0], name);
        push(
          n,
          hi === Number.POSITIVE_INFINITY ? { op: 'activation', fn: 'relu' } : { op: 'activation', fn: 'crelu', cap: shortest(hi) },
          [ins[0]],
          shape,
        );
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const x = shapeOf(ins[0], name);
        if (x.length !== 3) throw new XbarError(`${src}: ${op} node '${name}' reads a [${x}] tensor, xbar pools images [C, H, W]`);
        const kernel = pair(attr.ints('kernel_shape'), [0, 0]);
        if (attr.int('ceil_mode', 0) !== 0)
          throw new XbarError(`${src}: ${op} node '${name}' has ceil_mode=1: xbar pools with ceil_mode=0`);
        if (attr.ints('dilations').some((d) => d !== 1))
          throw new XbarError(`${src}: ${op} node '${name}' has dilations: xbar pools without`);
        const stride = pair(attr.ints('strides'), [1, 1]);
        const pads = padsOf(attr, kernel, stride, x, name, src);
        if (op === 'AveragePool' && pads.some((p) => p !== 0) && attr.int('count_include_pad', 0) === 0)
          throw new XbarError(`${src}: AveragePool node '${name}' pads without counting the padding: xbar's average pools do not pad`);
        const shape = [
          x[0],
          outSize(x[1], kernel[0], stride[0], pads[0] + pads[2]),
          outSize(x[2], kernel[1], stride[1], pads[1] + pads[3]),
        ];
        push(n, { op: op === 'MaxPool' ? 'maxpool' : 'avgpool', kernel, stride, pads }, [ins[0]], shape);
        break;
      }
      case 'GlobalAveragePool': {
        const x = shapeOf(ins[0], name);
        if (x.length !== 3) throw new XbarError(`${src}: GlobalAveragePool node '${name}' reads a [${x}] tensor, not an image`);
        push(n, { op: 'globalavgpool' }, [ins[0]], [x[0], 1, 1]);
        break;
      }
      case 'Flatten':
      case 'Reshape':
      case 'Squeeze': {
        const x = shapeOf(ins[0], name);
        const total = x.reduce((a, b) => a * b, 1);
        let flat: boolean;
        if (op === 'Flatten') flat = attr.int('axis', 1) === 1;
        else if (op === 'Reshape') {
          const s = needConst(1, 'shape').ints ?? [];
          flat =
            s.length === 2 && (s[0] === 0 || s[0] === -1 || s[0] === 1) && (s[1] === -1 || s[1] === total) && !(s[0] === -1 && s[1] === -1);
        } else {
          const axes = (ins[1] ? (needConst(1, 'axes').ints ?? []) : attr.ints('axes')).map((a) => (a < 0 ? a + x.length + 1 : a));
          flat = x.length === 3 && x[1] === 1 && x[2] === 1 && axes.length === 2 && axes.includes(2) && axes.includes(3);
        }
        if (!flat)
          throw new XbarError(
            `${src}: ${op} node '${name}' does not flatten its [${x}] input to [batch, ${total}]: xbar imports ${op} only where it flattens`,
          );
        if (x.length === 1) {
          alias.set(out, real(ins[0]));
          if (out === net.output) net.output = real(ins[0]);
        } else push(n, { op: 'flatten' }, [ins[0]], [total]);
        break;
      }
      case 'Add':
      case 'Mul': {
        const [a, b] = [cst(0), cst(1)];
        if (a && b) throw new XbarError(`${src}: ${op} node '${name}' adds two constants: fold them before exporting`);
        if (!a && !b) {
          if (op === 'Mul')
            throw new XbarError(`${src}: Mul node '${name}' multiplies two run-time tensors: xbar imports Mul by a constant only`);
          const [sa, sb] = [shapeOf(ins[0], name), shapeOf(ins[1], name)];
          if (sa.join('x') !== sb.join('x'))
            throw new XbarError(
              `${src}: Add node '${name}' adds [${sa}] and [${sb}]: xbar adds tensors of the same shape only (no broadcasting)`,
            );
          push(n, { op: 'add' }, [ins[0], ins[1]], sa);
          break;
        }
        const xi = a ? 1 : 0;
        const c = (a ?? b)!;
        const x = shapeOf(ins[xi], name);
        const data = perChannel(c, x, `${op} node '${name}'`, src);
        const target = op === 'Add' ? foldTarget(ins[xi]) : null;
        if (target) {
          for (let j = 0; j < data.length; j++) target.bias[j] = Math.fround(target.bias[j] + data[j]);
          if (target.op === 'conv') target.hasBias = true;
          renameOutput(target, out);
          net.transformations.push(`folded Add node '${name}' into the bias of node '${target.name}'`);
        } else push(n, op === 'Add' ? { op: 'shift', data } : { op: 'mul', data }, [ins[xi]], x);
        break;
      }
      case 'Concat': {
        const parts = ins.map((i) => shapeOf(i, name));
        const axis = attr.int('axis', 1);
        const rank = parts[0].length + 1;
        if ((axis + rank) % rank !== 1 || parts.some((p) => p.length !== parts[0].length || p.slice(1).join() !== parts[0].slice(1).join()))
          throw new XbarError(
            `${src}: Concat node '${name}' joins [${parts.map((p) => `[${p}]`)}] on axis ${axis}: xbar concatenates over channels only`,
          );
        push(n, { op: 'concat' }, ins, [parts.reduce((s, p) => s + p[0], 0), ...parts[0].slice(1)]);
        break;
      }
      case 'Softmax':
      case 'LogSoftmax': {
        if (out !== net.output)
          throw new XbarError(
            `${src}: ${op} node '${name}' is not at the output: xbar drops ${op} at the output only (it does not change the argmax)`,
          );
        net.output = real(ins[0]);
        net.transformations.push(`dropped ${op} node '${name}' at the output (the argmax, so the accuracy, is unchanged; logits come out)`);
        break;
      }
      default:
        throw new XbarError(`unsupported ONNX operator '${op}' (node '${name}'): xbar imports ${SUPPORTED_OPS.join(', ')}`);
    }
  }
  if (!shapes.has(net.output)) throw new XbarError(`${src}: the graph output '${net.output}' is a constant or never computed`);
  net.nodes = live(net);
  return net;
}

/** Nodes the output depends on (a Dropout's mask output and the like are left behind). */
function live(g: NetGraph): NetNode[] {
  const byOut = new Map(g.nodes.map((n) => [n.output, n]));
  const keep = new Set<NetNode>();
  const stack = [g.output];
  while (stack.length) {
    const n = byOut.get(stack.pop()!);
    if (n && !keep.has(n)) {
      keep.add(n);
      stack.push(...n.inputs);
    }
  }
  return g.nodes.filter((n) => keep.has(n));
}

const nodeName = (n: NodeProto): string => n.name || n.output?.[0] || n.opType || '?';

function inputShape(vi: ValueInfoProto, opts: LiftOptions): Shape {
  const src = opts.source;
  const dims = vi.type?.tensorType?.shape?.dim;
  const elem = vi.type?.tensorType?.elemType;
  if (elem !== undefined && elem !== 1)
    throw new XbarError(`${src}: input '${vi.name}' has ONNX element type ${elem}: xbar feeds float32 images (type 1)`);
  if (!dims || (dims.length !== 4 && dims.length !== 2))
    throw new XbarError(
      `${src}: input '${vi.name}' has ${dims ? `${dims.length} dimensions` : 'no shape'}: xbar imports image inputs [batch, C, H, W] or flat ones [batch, features]`,
    );
  const rest = dims.slice(1).map((d) => (d.dimValue && d.dimValue > 0 ? Number(d.dimValue) : null));
  const shown = `[${dims.map((d) => (d.dimValue && d.dimValue > 0 ? d.dimValue : d.dimParam || '?')).join(', ')}]`;
  const img = opts.imageShape;
  if (dims.length === 4) {
    if (img) {
      rest.forEach((d, i) => {
        if (d !== null && d !== img[i])
          throw new XbarError(
            `${src}: input '${vi.name}' is ${shown} but the dataset's images are [${img}] (C, H, W): pick the matching --dataset`,
          );
      });
      return [...img];
    }
    if (rest.some((d) => d === null))
      throw new XbarError(
        `${src}: input '${vi.name}' has dynamic dimensions ${shown}: pass --dataset or --data-dir so the image size is known`,
      );
    return rest as number[];
  }
  const f = rest[0];
  if (img) {
    const n = img[0] * img[1] * img[2];
    if (f !== null && f !== n)
      throw new XbarError(
        `${src}: input '${vi.name}' is ${shown} but the dataset's images have ${n} values [${img}]: pick the matching --dataset`,
      );
    return [n];
  }
  if (f === null)
    throw new XbarError(
      `${src}: input '${vi.name}' has dynamic dimensions ${shown}: pass --dataset or --data-dir so the input size is known`,
    );
  return [f];
}

/** A constant broadcast against x per channel: a scalar, [C], [C,1,1] or [1,C,1,1] (or [1, F] for vectors). */
function perChannel(c: ConstTensor, x: Shape, what: string, src: string): Float32Array {
  const ch = x[0];
  if (c.data.length === 1) return new Float32Array(ch).fill(c.data[0]);
  const dims = [...c.dims];
  while (dims.length > 0 && dims[0] === 1) dims.shift();
  const want = x.length === 3 ? [ch, 1, 1] : [ch];
  if (dims.join('x') === want.join('x') || (x.length === 1 && dims.join('x') === `${ch}`)) return c.data.slice();
  throw new XbarError(`${src}: ${what} broadcasts a [${c.dims}] constant over [${x}]: xbar imports per-channel constants only`);
}

type Weighted = Extract<NetNode, { op: 'conv' | 'dense' }>;

function foldBatchNorm(
  t: Weighted,
  channels: number,
  gamma: Float32Array,
  beta: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
): void {
  const f = t.op === 'conv' ? t.filters : t.units;
  if (f !== channels || gamma.length !== f)
    throw new XbarError(`batch norm over ${gamma.length} channels follows '${t.name}' with ${f} outputs`);
  // In float64, rounded once: w' = w g / sqrt(v + eps), b' = (b - mean) g / sqrt(v + eps) + beta.
  const k = Array.from(gamma, (g, j) => g / Math.sqrt(variance[j] + eps));
  if (t.op === 'conv') {
    const per = t.weight.length / f; // OIHW: each filter's weights are contiguous
    for (let j = 0; j < f; j++) for (let i = 0; i < per; i++) t.weight[j * per + i] = Math.fround(t.weight[j * per + i] * k[j]);
  } else {
    const rows = t.weight.length / f; // [in, out]
    for (let r = 0; r < rows; r++) for (let j = 0; j < f; j++) t.weight[r * f + j] = Math.fround(t.weight[r * f + j] * k[j]);
  }
  for (let j = 0; j < f; j++) t.bias[j] = Math.fround((t.bias[j] - mean[j]) * k[j] + beta[j]);
  if (t.op === 'conv') t.hasBias = true;
}

/**
 * The shortest decimal that is the same float32: ONNX stores attributes such as epsilon, alpha
 * and Clip's bounds as float32, xbar's specs hold them as decimals (1e-5, not 9.99999974e-6).
 */
export function shortest(f: number): number {
  if (!Number.isFinite(f)) return f;
  const target = Math.fround(f);
  for (let digits = 1; digits <= 9; digits++) {
    const v = Number(target.toPrecision(digits));
    if (Math.fround(v) === target) return v;
  }
  return target;
}

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

const outSize = (n: number, k: number, s: number, pad: number): number => Math.floor((n + pad - k) / s) + 1;

function pair(v: number[], dflt: [number, number]): [number, number] {
  if (v.length === 0) return dflt;
  if (v.length !== 2) throw new XbarError(`expected two spatial values, got [${v}]`);
  return [v[0], v[1]];
}

/** Explicit pads [top, left, bottom, right] from `pads` or `auto_pad` (SAME_UPPER/LOWER, VALID). */
function padsOf(attr: Attrs, kernel: [number, number], stride: [number, number], x: Shape, name: string, src: string): Pads {
  const auto = attr.string('auto_pad', 'NOTSET');
  if (auto === 'NOTSET') {
    const p = attr.ints('pads');
    if (p.length === 0) return [0, 0, 0, 0];
    if (p.length !== 4) throw new XbarError(`${src}: node '${name}' has pads [${p}], expected 4 values`);
    return [p[0], p[1], p[2], p[3]];
  }
  if (auto === 'VALID') return [0, 0, 0, 0];
  if (auto !== 'SAME_UPPER' && auto !== 'SAME_LOWER') throw new XbarError(`${src}: node '${name}' has auto_pad '${auto}'`);
  const total = [0, 1].map((i) => Math.max(0, (Math.ceil(x[i + 1] / stride[i]) - 1) * stride[i] + kernel[i] - x[i + 1]));
  const small = total.map((t) => Math.floor(t / 2));
  const big = total.map((t, i) => t - small[i]);
  return auto === 'SAME_UPPER' ? [small[0], small[1], big[0], big[1]] : [big[0], big[1], small[0], small[1]];
}

interface Attrs {
  has(name: string): boolean;
  int(name: string, dflt: number): number;
  float(name: string, dflt: number): number;
  ints(name: string): number[];
  floats(name: string): number[];
  string(name: string, dflt: string): string;
  tensor(name: string): AttributeProto['t'] | undefined;
}

function attributes(n: NodeProto, src: string): Attrs {
  const byName = new Map((n.attribute ?? []).map((a) => [a.name ?? '', a]));
  const get = (k: string) => byName.get(k);
  return {
    has: (k) => byName.has(k),
    int: (k, d) => Number(get(k)?.i ?? d),
    float: (k, d) => (get(k)?.f !== undefined ? Number(get(k)!.f) : d),
    ints: (k) => (get(k)?.ints ?? []).map(Number),
    floats: (k) => (get(k)?.floats ?? []).map(Number),
    string: (k, d) => {
      const s = get(k)?.s;
      return s ? new TextDecoder().decode(s) : d;
    },
    tensor: (k) => {
      const t = get(k)?.t;
      if (get(k) && !t) throw new XbarError(`${src}: node '${nodeName(n)}' attribute '${k}' holds no tensor`);
      return t;
    },
  };
}
