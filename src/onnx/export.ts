import { XbarError } from '../core/errors.js';
import { Activation } from '../nn/activation.js';
import { BatchNorm } from '../nn/batchnorm.js';
import { Compensation } from '../nn/compensation.js';
import { Conv2d } from '../nn/conv.js';
import { Dense } from '../nn/dense.js';
import { Add, Concat } from '../nn/merge.js';
import type { Model } from '../nn/model.js';
import { GlobalAvgPool, Pool2d } from '../nn/pool.js';
import { Dropout, Flatten } from '../nn/shape.js';
import { crossbarToConv, permuteRowsHwcToChw } from './lower-sequential.js';
import { AttributeType, DataType, encodeModelProto, type ModelProto, type NodeProto, type TensorProto } from './proto.js';
import { floatTensorProto } from './tensor.js';

/** The opset and IR version xbar writes: opset 17 is read by every current runtime. */
export const EXPORT_OPSET = 17;
export const EXPORT_IR_VERSION = 8;
/** producer_name of the files xbar writes: their batch norms are imported as nodes, not folded, so they come back bit for bit. */
export const XBAR_PRODUCER = 'xbar';

export interface ExportOptions {
  /** The graph's name (the model folder, usually). */
  name: string;
  producerVersion: string;
}

/**
 * An xbar model as an ONNX graph in the NCHW layout every framework expects: input
 * [batch, C, H, W] float32, output the logits [batch, classes]. Conv weights go back to OIHW, the
 * dense layer after a flatten gets its rows back in ONNX's (c, h, w) order, dropout is left out
 * (identity at inference), a batch norm is a BatchNormalization node, a graph's additions and
 * concatenations are Add and Concat (channel axis), and a compensation module becomes the ONNX ops it computes:
 * x * scale + x + shift (+ Conv/Gemm - Relu - Conv/Gemm of x). Importing the file gives the same
 * model back, bit for bit.
 */
export function exportOnnx(model: Model, opts: ExportOptions): Uint8Array {
  const b = new GraphBuilder();
  const [h, w, c] = model.spec.inputShape;
  /** Per node: its ONNX output, and the [h, w, c] a vector was flattened from (until a dense reads it). */
  const outs: string[] = [];
  const flatFroms: (number[] | null)[] = [];
  model.layers.forEach((layer, i) => {
    const at = model.graph ? model.graph.names[i] : `layer${i}`;
    const sources = model.graph ? model.graph.inputs[i] : [i - 1];
    const ins = sources.map((j) => (j < 0 ? 'input' : outs[j]));
    const x = ins[0];
    const shape = sources[0] < 0 ? model.spec.inputShape : model.layers[sources[0]].outShape;
    const flatFrom = sources[0] < 0 ? null : flatFroms[sources[0]];
    let y = x;
    let ff: number[] | null = null;
    if (layer instanceof Conv2d) {
      const { k, pad, stride } = layer.geom;
      const f = layer.outShape[2];
      const wt = b.init(layer.weight.name, [f, shape[2], k, k], crossbarToConv(layer.weight.value, f, shape[2], k));
      const withBias = layer.params.includes(layer.bias);
      const inputs = withBias ? [x, wt, b.init(layer.bias.name, [f], layer.bias.value)] : [x, wt];
      y = b.node('Conv', at, inputs, { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] });
    } else if (layer instanceof Dense) {
      const [nIn, nOut] = layer.weight.shape;
      const value = flatFrom ? permuteRowsHwcToChw(layer.weight.value, [flatFrom[2], flatFrom[0], flatFrom[1]], nOut) : layer.weight.value;
      y = b.node('Gemm', at, [x, b.init(layer.weight.name, [nIn, nOut], value), b.init(layer.bias.name, [nOut], layer.bias.value)], {});
    } else if (layer instanceof Activation) {
      ff = flatFrom;
      if (layer.fn === 'crelu')
        y = b.node('Clip', at, [x, b.init(`${at}.min`, [], Float32Array.of(0)), b.init(`${at}.max`, [], Float32Array.of(layer.cap))], {});
      else if (layer.fn === 'leakyrelu') y = b.node('LeakyRelu', at, [x], { alpha: { float: layer.alpha } });
      else if (layer.fn !== 'linear') y = b.node(layer.fn === 'relu' ? 'Relu' : layer.fn === 'sigmoid' ? 'Sigmoid' : 'Tanh', at, [x], {});
    } else if (layer instanceof Pool2d) {
      y = b.node(layer.mode === 'max' ? 'MaxPool' : 'AveragePool', at, [x], {
        kernel_shape: [layer.size, layer.size],
        strides: [layer.stride, layer.stride],
      });
    } else if (layer instanceof GlobalAvgPool) {
      // ONNX keeps [batch, C, 1, 1]; xbar's global pool gives the vector [C].
      y = b.node('Flatten', `${at}.flatten`, [b.node('GlobalAveragePool', at, [x], {})], { axis: 1 });
    } else if (layer instanceof Flatten) {
      if (shape.length === 3) {
        y = b.node('Flatten', at, [x], { axis: 1 });
        if (shape[2] > 1 && shape[0] * shape[1] > 1) ff = shape;
      }
    } else if (layer instanceof BatchNorm) {
      if (flatFrom) throw new XbarError(`node ${at}: a batch norm between a flatten and a dense layer has no ONNX equivalent xbar exports`);
      const ch = layer.channels;
      const [g, be, m, v] = [layer.gamma, layer.beta, layer.runningMean, layer.runningVar].map((p) => b.init(p.name, [ch], p.value));
      y = b.node('BatchNormalization', at, [x, g, be, m, v], { epsilon: { float: layer.eps } });
    } else if (layer instanceof Add) {
      y = ins.slice(1).reduce((acc, t, k) => b.node('Add', k === ins.length - 2 ? at : `${at}.${k}`, [acc, t], {}), x);
    } else if (layer instanceof Concat) {
      y = b.node('Concat', at, ins, { axis: 1 });
    } else if (layer instanceof Compensation) {
      if (flatFrom)
        throw new XbarError(`node ${at}: a compensation module between a flatten and a dense layer has no ONNX equivalent xbar exports`);
      y = compensation(b, layer, at, x, shape.length === 3);
    } else if (layer instanceof Dropout) ff = flatFrom;
    else throw new Error(`exportOnnx: node ${at} (${layer.spec.type}) has no ONNX form`);
    outs[i] = y;
    flatFroms[i] = ff;
  });
  const outShape = model.layers[model.layers.length - 1].outShape;
  if (outShape.length !== 1)
    throw new XbarError(`the model ends in a [${outShape}] tensor: xbar exports networks that end in class scores`);
  const logits = b.node('Identity', 'output', [outs[outs.length - 1]], {}, 'logits');
  const proto: ModelProto = {
    irVersion: EXPORT_IR_VERSION,
    opsetImport: [{ domain: '', version: EXPORT_OPSET }],
    producerName: XBAR_PRODUCER,
    producerVersion: opts.producerVersion,
    graph: {
      name: opts.name,
      node: b.nodes,
      initializer: b.inits,
      input: [valueInfo('input', ['batch', c, h, w])],
      output: [valueInfo(logits, ['batch', outShape[0]])],
    },
  };
  return encodeModelProto(proto);
}

/** z = x * scale + x + shift [+ up(relu(down(x)))], as nn/compensation.ts computes it. */
function compensation(b: GraphBuilder, m: Compensation, at: string, x: string, image: boolean): string {
  const c = m.scale.value.length;
  const perChannel = image ? [c, 1, 1] : [c];
  const scaled = b.node('Mul', `${at}.scale`, [x, b.init(m.scale.name, perChannel, m.scale.value)], {});
  const plusX = b.node('Add', `${at}.identity`, [scaled, x], {});
  let z = b.node('Add', `${at}.shift`, [plusX, b.init(m.shift.name, perChannel, m.shift.value)], {});
  if (m.down && m.up) {
    const k = m.kernel;
    const r = m.rank;
    const pad = (k - 1) / 2;
    const down = image
      ? b.node(
          'Conv',
          `${at}.down`,
          [
            x,
            b.init(m.down.weight.name, [r, c, k, k], crossbarToConv(m.down.weight.value, r, c, k)),
            b.init(m.down.bias.name, [r], m.down.bias.value),
          ],
          { kernel_shape: [k, k], pads: [pad, pad, pad, pad] },
        )
      : b.node(
          'Gemm',
          `${at}.down`,
          [x, b.init(m.down.weight.name, [c, r], m.down.weight.value), b.init(m.down.bias.name, [r], m.down.bias.value)],
          {},
        );
    const hidden = b.node('Relu', `${at}.relu`, [down], {});
    const up = image
      ? b.node(
          'Conv',
          `${at}.up`,
          [
            hidden,
            b.init(m.up.weight.name, [c, r, 1, 1], crossbarToConv(m.up.weight.value, c, r, 1)),
            b.init(m.up.bias.name, [c], m.up.bias.value),
          ],
          { kernel_shape: [1, 1] },
        )
      : b.node(
          'Gemm',
          `${at}.up`,
          [hidden, b.init(m.up.weight.name, [r, c], m.up.weight.value), b.init(m.up.bias.name, [c], m.up.bias.value)],
          {},
        );
    z = b.node('Add', `${at}.residual`, [z, up], {});
  }
  return z;
}

function valueInfo(name: string, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensorType: {
        elemType: DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];

  init(name: string, dims: number[], data: Float32Array): string {
    this.inits.push(floatTensorProto(name, dims, data));
    return name;
  }

  /** Adds a node named `name`; its output is named after it unless `output` is given. */
  node(
    op: string,
    name: string,
    inputs: string[],
    attrs: Record<string, number | number[] | { float: number }>,
    output = `${name}.out`,
  ): string {
    const attribute = Object.entries(attrs).map(([k, v]) =>
      Array.isArray(v)
        ? { name: k, type: AttributeType.INTS, ints: v }
        : typeof v === 'number'
          ? { name: k, type: AttributeType.INT, i: v }
          : { name: k, type: AttributeType.FLOAT, f: v.float },
    );
    this.nodes.push({ name, opType: op, domain: '', input: inputs, output: [output], attribute });
    return output;
  }
}
