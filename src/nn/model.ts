import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { Rng } from '../core/rng.js';
import { Activation } from './activation.js';
import { BatchNorm } from './batchnorm.js';
import { Compensation } from './compensation.js';
import { Conv2d } from './conv.js';
import { Dense } from './dense.js';
import { backwardGraph, GRAPH_INPUT, type Graph, isGraphSpec, makeGraph, type NodeValues, needsGrad, runNodes, slot } from './graph.js';
import { type Context, type Layer, type LayerSpec, wantsGrad } from './layer.js';
import { Add, Concat } from './merge.js';
import { GlobalAvgPool, Pool2d } from './pool.js';
import { Dropout, Flatten } from './shape.js';
import type { GraphSpec, ModelSpec } from './spec.js';
import { type Param, size, type Tensor } from './tensor.js';

/**
 * A network: its layers in order and their parameters. A sequential spec's layer i reads layer
 * i - 1; a graph spec's (spec.nodes) wiring is in `graph`, with layer i = node i.
 */
export class Model {
  /** Every saved array, in manifest order: trained parameters and buffers (Param.buffer). */
  readonly params: Param[];
  constructor(
    readonly spec: ModelSpec,
    readonly layers: Layer[],
    readonly graph: Graph | null = null,
  ) {
    this.params = layers.flatMap((l) => l.params);
  }

  get inputSize(): number {
    return size(this.spec.inputShape);
  }
  get outputSize(): number {
    return size(this.layers[this.layers.length - 1].outShape);
  }
  /** Trained parameters (buffers such as batch norm's running statistics not counted). */
  get parameterCount(): number {
    return this.params.reduce((a, p) => a + (p.buffer ? 0 : p.value.length), 0);
  }

  forward(x: Tensor, ctx: Context): Tensor {
    let h: Tensor = { data: x.data, shape: [x.shape[0], ...this.spec.inputShape] };
    if (this.graph) {
      const values: NodeValues = [];
      values[slot(this.graph, -1)] = h;
      runNodes(this.layers, this.graph, values, ctx, 0, this.layers.length);
      return values[this.layers.length - 1] as Tensor;
    }
    for (const layer of this.layers) h = layer.forward(h, ctx);
    return h;
  }

  backward(dy: Tensor, ctx: Context): void {
    const trains = (l: Layer) => l.params.some((p) => !p.buffer && wantsGrad(ctx, p));
    if (this.graph) {
      backwardGraph(this.layers, this.graph, dy, ctx, needsGrad(this.layers, this.graph, trains));
      return;
    }
    // Below the first layer with a trained parameter nothing needs a gradient: that layer skips
    // computing dLoss/dInput (for a conv, the largest GEMM and col2im of the pass).
    const first = this.layers.findIndex(trains);
    let g: Tensor | null = dy;
    for (let i = this.layers.length - 1; i >= first && g; i--) g = this.layers[i].backward(g, ctx, i > first);
  }

  zeroGrad(): void {
    for (const p of this.params) p.grad.fill(0);
  }

  /** Logits for n inputs, in batches so memory stays bounded for any n. */
  predict(x: Float32Array, n: number, kernels: Kernels, batchSize = 1000): Float32Array {
    const inSize = this.inputSize;
    if (x.length !== n * inSize) throw new XbarError(`model expects ${inSize} inputs per sample, data has ${x.length / n}`);
    const out = new Float32Array(n * this.outputSize);
    const ctx: Context = { kernels, training: false };
    for (let s = 0; s < n; s += batchSize) {
      const b = Math.min(batchSize, n - s);
      const y = this.forward({ data: x.subarray(s * inSize, (s + b) * inSize), shape: [b, inSize] }, ctx);
      out.set(y.data, s * this.outputSize);
    }
    return out;
  }
}

/** Copies `weights` (one array per parameter, in the model's order) into `model`; returns it. */
export function setWeights(model: Model, weights: readonly Float32Array[]): Model {
  model.params.forEach((p, i) => {
    p.value.set(weights[i]);
  });
  return model;
}

/**
 * One layer from its spec and input shape(s); `prefix` names its parameters. `rng()` is the
 * layer's generator, drawn only by layers with weights (forking advances the parent).
 */
function makeLayer(ls: LayerSpec, inShapes: number[][], prefix: string, rng: () => Rng, reluNext: boolean): Layer {
  if (ls.type === 'add' || ls.type === 'concat') return ls.type === 'add' ? new Add(inShapes) : new Concat(inShapes);
  if (inShapes.length !== 1) throw new RangeError(`a ${ls.type} layer reads one input, got ${inShapes.length}`);
  const shape = inShapes[0];
  switch (ls.type) {
    case 'dense':
      return new Dense(shape, ls.units, prefix, rng(), reluNext ? 'relu' : 'other');
    case 'conv2d':
      return new Conv2d(shape, ls.filters, ls.kernel, ls.stride ?? 1, ls.pad ?? ls.padding ?? 'valid', prefix, rng(), ls.bias ?? true);
    case 'maxpool':
    case 'avgpool':
      return new Pool2d(shape, ls.type === 'maxpool' ? 'max' : 'avg', ls.size, ls.stride ?? ls.size);
    case 'globalavgpool':
      return new GlobalAvgPool(shape);
    case 'activation':
      return new Activation(shape, ls.fn, ls.cap, ls.alpha);
    case 'flatten':
      return new Flatten(shape);
    case 'dropout':
      return new Dropout(shape, ls.rate);
    case 'batchnorm':
      return new BatchNorm(shape, prefix, ls.eps, ls.momentum);
    case 'compensation':
      return new Compensation(shape, ls.rank, ls.kernel ?? 1, prefix, rng());
  }
}

const isReluSpec = (ls: LayerSpec | undefined) => ls?.type === 'activation' && (ls.fn === 'relu' || ls.fn === 'crelu');

/** Builds a model from its spec, inferring every layer's shape; weights drawn from `seed`. */
export function buildModel(spec: ModelSpec, seed: number): Model {
  if (isGraphSpec(spec)) return buildGraphModel(spec, seed);
  const rng = new Rng(seed);
  const layers: Layer[] = [];
  let shape: number[] = [...spec.inputShape];
  let weighted = 0;
  let compensation = 0;
  let norm = 0;
  spec.layers.forEach((ls, i) => {
    const prefix =
      ls.type === 'dense' || ls.type === 'conv2d'
        ? `layer${weighted++}`
        : ls.type === 'compensation'
          ? `comp${compensation++}`
          : `bn${norm}`;
    if (ls.type === 'batchnorm') norm++;
    let layer: Layer;
    try {
      if (ls.type === 'add' || ls.type === 'concat') throw new RangeError('joins several inputs: write the model as a graph (spec.nodes)');
      layer = makeLayer(ls, [shape], prefix, () => rng.fork(i), isReluSpec(spec.layers[i + 1]));
    } catch (e) {
      if (e instanceof RangeError) throw new XbarError(`model layer ${i} (${ls.type}): ${e.message}`);
      throw e;
    }
    layers.push(layer);
    shape = layer.outShape;
  });
  return new Model(spec, layers);
}

/** A graph spec's model: resolves node names, checks the wiring, and names parameters `<node>.<param>`. */
function buildGraphModel(spec: GraphSpec, seed: number): Model {
  const rng = new Rng(seed);
  const index = new Map<string, number>();
  const names = spec.nodes.map((n) => n.name);
  const inputs = spec.nodes.map((node, i) => {
    if (node.name === GRAPH_INPUT) throw new XbarError(`model node ${i}: the name '${GRAPH_INPUT}' is the network input: rename the node`);
    if (index.has(node.name)) throw new XbarError(`model node ${i}: the name '${node.name}' is used twice: node names must be unique`);
    const ins = (node.inputs ?? [i === 0 ? GRAPH_INPUT : names[i - 1]]).map((name) => {
      if (name === GRAPH_INPUT) return -1;
      const j = index.get(name);
      if (j === undefined)
        throw new XbarError(
          `model node '${node.name}' reads '${name}', which is not an earlier node: list nodes after the nodes they read (or read '${GRAPH_INPUT}')`,
        );
      return j;
    });
    index.set(node.name, i);
    return ins;
  });
  const graph = makeGraph(names, inputs);
  // Every node must feed the output (the last node): a dangling branch is almost always a wiring mistake.
  const used = new Array<boolean>(names.length).fill(false);
  used[names.length - 1] = true;
  for (let i = names.length - 1; i >= 0; i--) if (used[i]) for (const j of inputs[i]) if (j >= 0) used[j] = true;
  const unused = names.filter((_, i) => !used[i]);
  if (unused.length)
    throw new XbarError(
      `model nodes ${unused.map((u) => `'${u}'`).join(', ')} do not lead to the output (the last node, '${names.at(-1)}'): wire them in or remove them`,
    );
  const layers: Layer[] = [];
  spec.nodes.forEach((node, i) => {
    const { name: _name, inputs: _inputs, ...ls } = node;
    const reluNext = graph.consumers[i].some((c) => isReluSpec(spec.nodes[c]));
    try {
      layers.push(
        makeLayer(
          ls as LayerSpec,
          inputs[i].map((j) => (j < 0 ? [...spec.inputShape] : layers[j].outShape)),
          node.name,
          () => rng.fork(i),
          reluNext,
        ),
      );
    } catch (e) {
      if (e instanceof RangeError) throw new XbarError(`model node '${node.name}' (${node.type}): ${e.message}`);
      throw e;
    }
  });
  return new Model(spec, layers, graph);
}
