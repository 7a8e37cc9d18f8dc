import type { Context, Layer } from './layer.js';
import { isMerge } from './layer.js';
import type { GraphSpec, ModelSpec, NodeSpec } from './spec.js';
import type { Tensor } from './tensor.js';

/** The name that reads the network input in a node's `inputs`. */
export const GRAPH_INPUT = 'input';

/** Whether a spec is a graph (spec.nodes) rather than a sequential list of layers. Zod-free, for workers. */
export const isGraphSpec = (spec: ModelSpec): spec is GraphSpec => 'nodes' in spec;

/**
 * The wiring of a graph model: layer i (node i) reads the outputs of inputs[i] (node indices, -1 =
 * the network input). Nodes are in topological order and the last is the output, so a forward
 * pass is one sweep over the nodes, and backward one sweep back.
 */
export interface Graph {
  names: string[];
  inputs: number[][];
  /** Every node's readers, in order. */
  consumers: number[][];
  /** Node index of the last reader of each node's output (slot `length` is the network input); the output's is Infinity. */
  lastUse: number[];
}

/** Node outputs during a pass, by node index; slot `graph.names.length` holds the network input. Freed after their last reader. */
export type NodeValues = (Tensor | undefined)[];

export function makeGraph(names: string[], inputs: number[][]): Graph {
  const n = names.length;
  const consumers: number[][] = names.map(() => []);
  const lastUse = new Array<number>(n + 1).fill(-1);
  inputs.forEach((ins, i) => {
    for (const j of ins) {
      if (j >= 0 && !consumers[j].includes(i)) consumers[j].push(i);
      lastUse[j < 0 ? n : j] = i;
    }
  });
  lastUse[n - 1] = Number.POSITIVE_INFINITY;
  return { names, inputs, consumers, lastUse };
}

/** The model's wiring: its graph, or for a sequential model the chain in which layer i reads layer i - 1. */
export function graphOf(model: { layers: Layer[]; graph: Graph | null }): Graph {
  return (
    model.graph ??
    makeGraph(
      model.layers.map((_, i) => `layer${i}`),
      model.layers.map((_, i) => [i - 1]),
    )
  );
}

/** Slot of node j's output in NodeValues (-1: the network input). */
export const slot = (graph: Graph, j: number): number => (j < 0 ? graph.names.length : j);

/** Node i's inputs from `values`. */
export function gather(graph: Graph, values: NodeValues, i: number): Tensor[] {
  return graph.inputs[i].map((j) => {
    const v = values[slot(graph, j)];
    if (!v) throw new Error(`graph: node ${graph.names[i]} reads a value that was not computed or already freed`);
    return v;
  });
}

/** Drops the outputs whose last reader is node i. */
export function release(graph: Graph, values: NodeValues, i: number): void {
  for (const j of graph.inputs[i]) if (graph.lastUse[slot(graph, j)] === i) values[slot(graph, j)] = undefined;
}

/** Node i's output computed by its layer, in software. */
export function runNode(layer: Layer, graph: Graph, values: NodeValues, i: number, ctx: Context): Tensor {
  const ins = gather(graph, values, i);
  return isMerge(layer) ? layer.merge(ins, ctx) : layer.forward(ins[0], ctx);
}

/**
 * Runs nodes from..until-1 in place on `values`. `visit(i)` may compute node i itself (the
 * crossbar simulator's weighted nodes) and return true; otherwise the layer runs in software.
 */
export function runNodes(
  layers: Layer[],
  graph: Graph,
  values: NodeValues,
  ctx: Context,
  from: number,
  until: number,
  visit?: (i: number) => boolean,
): void {
  for (let i = from; i < until; i++) {
    if (!visit?.(i)) values[i] = runNode(layers[i], graph, values, i, ctx);
    release(graph, values, i);
  }
}

/** Whether each node, or a node upstream of it, has a parameter backward must compute. */
export function needsGrad(layers: Layer[], graph: Graph, trains: (l: Layer) => boolean): boolean[] {
  const needs: boolean[] = [];
  layers.forEach((l, i) => {
    needs.push(trains(l) || graph.inputs[i].some((j) => j >= 0 && needs[j]));
  });
  return needs;
}

/** Backward over the graph: gradients of nodes read by several others are summed. */
export function backwardGraph(layers: Layer[], graph: Graph, dy: Tensor, ctx: Context, needs: boolean[]): void {
  const n = layers.length;
  const grads: (Tensor | undefined)[] = new Array(n);
  grads[n - 1] = dy;
  const accumulate = (j: number, g: Tensor) => {
    if (j < 0 || !needs[j]) return;
    const prev = grads[j];
    if (!prev) {
      grads[j] = g;
      return;
    }
    // A new array: gradients may share storage (add hands every input the same one).
    const sum = new Float32Array(prev.data.length);
    for (let k = 0; k < sum.length; k++) sum[k] = prev.data[k] + g.data[k];
    grads[j] = { data: sum, shape: prev.shape };
  };
  for (let i = n - 1; i >= 0; i--) {
    const g = grads[i];
    grads[i] = undefined;
    if (!g || !needs[i]) continue;
    const layer = layers[i];
    const ins = graph.inputs[i];
    if (isMerge(layer)) {
      const parts = layer.split(g);
      ins.forEach((j, k) => {
        accumulate(j, parts[k]);
      });
      continue;
    }
    const j = ins[0];
    const d = layer.backward(g, ctx, j >= 0 && needs[j]);
    if (d) accumulate(j, d);
  }
}

/** Every node's inputs by name, defaults written out (`input` for the network input). */
export function resolvedInputs(spec: GraphSpec): string[][] {
  return spec.nodes.map((node, i) => node.inputs ?? [i === 0 ? GRAPH_INPUT : spec.nodes[i - 1].name]);
}

/**
 * Nodes with their inputs given by name, as a spec's node list: `inputs` is written only where
 * it differs from the default (the node before). Used by the edits that insert or remove nodes.
 */
export function withInputs(nodes: { node: NodeSpec; inputs: string[] }[]): NodeSpec[] {
  return nodes.map(({ node, inputs }, i) => {
    const { inputs: _drop, ...rest } = node;
    const prev = i === 0 ? GRAPH_INPUT : nodes[i - 1].node.name;
    return (inputs.length === 1 && inputs[0] === prev ? rest : { ...rest, inputs }) as NodeSpec;
  });
}
