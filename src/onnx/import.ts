import { XbarError } from '../core/errors.js';
import { buildModel, type Model, setWeights } from '../nn/model.js';
import { XBAR_PRODUCER } from './export.js';
import { liftOnnx } from './lift.js';
import { lowerGraph } from './lower-graph.js';
import { lowerSequential } from './lower-sequential.js';
import type { NetGraph } from './net.js';
import { decodeModelProto } from './proto.js';

export interface ImportOptions {
  /** Names the file in errors and in the metadata. */
  source: string;
  /** The dataset's image [C, H, W]: fixes dynamic input dimensions, checked against fixed ones. */
  imageShape?: [number, number, number];
  /** The network expects (x - mean) / std of xbar's [0, 1] pixels: folded into its first layer. */
  normalize?: { mean: number; std: number };
}

/** Where an imported model came from and what the import changed: its `meta.onnx`. */
export interface OnnxProvenance {
  file: string;
  sha256: string;
  producer: string;
  producerVersion: string;
  irVersion: number;
  opset: number;
  graph: string;
  transformations: string[];
}

/**
 * An ONNX file as an xbar model: decoded with the official schema, lifted onto the intermediate
 * network (constants bound, batch norm folded, Dropout, Identity and the output Softmax dropped),
 * then lowered onto xbar's model format with the NCHW -> NHWC conversion done once. Throws an
 * XbarError naming the problem for anything it cannot import exactly.
 */
export function importOnnx(bytes: Uint8Array, sha256: string, opts: ImportOptions): { model: Model; provenance: OnnxProvenance } {
  const proto = decodeModelProto(bytes, opts.source);
  // A file xbar wrote keeps its batch norms as nodes, so export then import gives the model back bit for bit.
  const keepBatchNorm = proto.producerName === XBAR_PRODUCER;
  const net = liftOnnx(proto, { source: opts.source, imageShape: opts.imageShape, keepBatchNorm });
  if (opts.normalize) foldInputNormalization(net, opts.normalize, opts.source);
  // A chain stays a sequential model (every command reads those); a branching network is a graph.
  const lowered = lowerSequential(net, opts.source) ?? lowerGraph(net, opts.source);
  const model = setWeights(buildModel(lowered.spec, 0), lowered.weights);
  const opset = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? 0;
  return {
    model,
    provenance: {
      file: opts.source,
      sha256,
      producer: proto.producerName ?? '',
      producerVersion: proto.producerVersion ?? '',
      irVersion: Number(proto.irVersion ?? 0),
      opset: Number(opset),
      graph: proto.graph?.name ?? '',
      transformations: net.transformations,
    },
  };
}

/**
 * (x - mean) / std folded into the first weighted node, so the model reads xbar's [0, 1] pixels:
 * W' = W / std, b' = b - (mean / std) * sum of each output's weights. Exact for a dense layer and
 * an unpadded convolution; a padded convolution would see `mean` instead of 0 in its padding, so
 * it is refused.
 */
export function foldInputNormalization(g: NetGraph, norm: { mean: number; std: number }, source: string): void {
  if (!(norm.std > 0)) throw new XbarError(`--normalize: std must be > 0, got ${norm.std}`);
  let t = g.input.name;
  for (const n of g.nodes) {
    if (!n.inputs.includes(t)) continue;
    if (n.op === 'flatten') {
      t = n.output;
      continue;
    }
    if ((n.op === 'conv' && n.pads.every((p) => p === 0)) || n.op === 'dense') {
      const f = n.op === 'conv' ? n.filters : n.units;
      const sums = new Float64Array(f);
      if (n.op === 'conv') {
        const per = n.weight.length / f;
        for (let o = 0; o < f; o++) for (let i = 0; i < per; i++) sums[o] += n.weight[o * per + i];
      } else for (let i = 0; i < n.weight.length; i++) sums[i % f] += n.weight[i];
      for (let i = 0; i < n.weight.length; i++) n.weight[i] = Math.fround(n.weight[i] / norm.std);
      for (let o = 0; o < f; o++) n.bias[o] = Math.fround(n.bias[o] - (norm.mean / norm.std) * sums[o]);
      g.transformations.push(`folded input normalization (x - ${norm.mean}) / ${norm.std} into node '${n.name}'`);
      return;
    }
    break;
  }
  throw new XbarError(
    `${source}: --normalize folds into a first Gemm/MatMul or unpadded Conv; this network starts differently (a padded Conv would see the mean in its padding): normalize the data instead`,
  );
}
