import { AttributeType, DataType, encodeModelProto, type NodeProto, type TensorProto } from '../../src/onnx/proto.js';
import { floatTensorProto, int64TensorProto } from '../../src/onnx/tensor.js';

/** A small ONNX model written node by node, for tests of what the importer does with each op. */
export class OnnxBuilder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private n = 0;
  constructor(
    readonly inputDims: (number | string)[],
    readonly opset = 17,
  ) {}

  init(dims: number[], values?: ArrayLike<number>, seed = this.inits.length + 1): string {
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    let s = seed;
    for (let i = 0; i < size; i++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      data[i] = values ? values[i] : (s / 2147483648 - 0.5) * 0.6;
    }
    const name = `w${this.inits.length}`;
    this.inits.push(floatTensorProto(name, dims, data));
    return name;
  }

  ints(values: number[]): string {
    const name = `i${this.inits.length}`;
    this.inits.push(int64TensorProto(name, values));
    return name;
  }

  node(op: string, inputs: string[], attrs: Record<string, number | number[] | string> = {}, outputs = 1): string {
    const name = `${op.toLowerCase()}${this.n++}`;
    const attribute = Object.entries(attrs).map(([k, v]) =>
      typeof v === 'string'
        ? { name: k, type: AttributeType.STRING, s: new TextEncoder().encode(v) }
        : Array.isArray(v)
          ? { name: k, type: AttributeType.INTS, ints: v }
          : Number.isInteger(v) && !k.startsWith('eps') && k !== 'alpha' && k !== 'beta'
            ? { name: k, type: AttributeType.INT, i: v }
            : { name: k, type: AttributeType.FLOAT, f: v },
    );
    const output = Array.from({ length: outputs }, (_, i) => `${name}:${i}`);
    this.nodes.push({ name, opType: op, input: inputs, output, attribute });
    return output[0];
  }

  bytes(output: string, outDims: (number | string)[] = ['N', 10]): Uint8Array {
    const vi = (name: string, dims: (number | string)[]) => ({
      name,
      type: {
        tensorType: {
          elemType: DataType.FLOAT,
          shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
        },
      },
    });
    return encodeModelProto({
      irVersion: 8,
      opsetImport: [{ domain: '', version: this.opset }],
      producerName: 'test',
      graph: { name: 'g', node: this.nodes, initializer: this.inits, input: [vi('x', this.inputDims)], output: [vi(output, outDims)] },
    });
  }
}
