/**
 * The intermediate network an ONNX file is lifted to before it is lowered onto an xbar model: a DAG
 * of named nodes in ONNX's own layout (NCHW; shapes without the batch dimension, [C, H, W] or [F]),
 * with batch norm already folded, dropped nodes gone and constants bound into the nodes that use
 * them. Lowering (lower-*.ts) only has to change the layout and pick the model format; the lifting
 * (lift.ts) knows ONNX and nothing of xbar's model.
 */
export type Shape = number[];

export type Pads = [top: number, left: number, bottom: number, right: number];

export type NetOp =
  /** weight [filters, channels, kh, kw] (ONNX OIHW), bias [filters] */
  | {
      op: 'conv';
      weight: Float32Array;
      bias: Float32Array;
      /** false: the Conv had no bias input and nothing was folded into it (xbar's `bias: false`) */
      hasBias: boolean;
      filters: number;
      kernel: [number, number];
      stride: [number, number];
      pads: Pads;
    }
  /** weight [in, out] (rows = inputs, as on a crossbar), bias [out] */
  | { op: 'dense'; weight: Float32Array; bias: Float32Array; units: number }
  | { op: 'activation'; fn: 'relu' | 'sigmoid' | 'tanh' | 'crelu' | 'leakyrelu'; cap?: number; alpha?: number }
  /** a batch norm kept as a node (not after a Conv/Gemm, or in a file xbar wrote) */
  | { op: 'batchnorm'; gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array; eps: number }
  | { op: 'maxpool' | 'avgpool'; kernel: [number, number]; stride: [number, number]; pads: Pads }
  | { op: 'globalavgpool' }
  /** [C, H, W] -> [C*H*W] in ONNX (C-major) order */
  | { op: 'flatten' }
  /** element-wise sum of two tensors of the same shape (residual connection) */
  | { op: 'add' }
  /** concatenation over channels */
  | { op: 'concat' }
  /** x * data, data per channel (compensation modules' scale) */
  | { op: 'mul'; data: Float32Array }
  /** x + data, data per channel (a bias no weighted node could absorb) */
  | { op: 'shift'; data: Float32Array };

export type NetNode = NetOp & {
  /** the ONNX node's name (or its output's, when the node has none) */
  name: string;
  inputs: string[];
  output: string;
  /** output shape without the batch dimension, NCHW */
  shape: Shape;
};

export interface NetGraph {
  input: { name: string; shape: Shape };
  nodes: NetNode[];
  output: string;
  /** what lifting changed, in order, for the model's metadata: folded batch norm, dropped softmax, ... */
  transformations: string[];
}

/** Tensor name -> the node that computes it. */
export function producers(g: NetGraph): Map<string, NetNode> {
  return new Map(g.nodes.map((n) => [n.output, n]));
}

/** Tensor name -> how many node inputs (plus the graph output) read it. */
export function consumerCounts(g: NetGraph): Map<string, number> {
  const c = new Map<string, number>();
  for (const n of g.nodes) for (const i of n.inputs) c.set(i, (c.get(i) ?? 0) + 1);
  c.set(g.output, (c.get(g.output) ?? 0) + 1);
  return c;
}
