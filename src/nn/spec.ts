import { z } from 'zod';
import { XbarError } from '../core/errors.js';

/**
 * The architecture of a network, as saved in model.json and accepted from --model FILE: either a
 * sequential list of `layers`, or a directed acyclic graph of named `nodes` (docs/model-format.md).
 */
const int = (min: number) => z.number().int().min(min);
const layerVariants = [
  z.strictObject({ type: z.literal('dense'), units: int(1) }),
  z.strictObject({
    type: z.literal('conv2d'),
    filters: int(1),
    kernel: int(1),
    stride: int(1).optional(),
    padding: z.enum(['same', 'valid']).optional(),
    /** Explicit symmetric zero padding on each side (instead of `padding`). */
    pad: int(0).optional(),
    /** false: no bias (a batch norm after the convolution supplies the shift). */
    bias: z.boolean().optional(),
  }),
  z.strictObject({ type: z.literal('maxpool'), size: int(1), stride: int(1).optional() }),
  z.strictObject({ type: z.literal('avgpool'), size: int(1), stride: int(1).optional() }),
  z.strictObject({ type: z.literal('globalavgpool') }),
  z.strictObject({
    type: z.literal('activation'),
    fn: z.enum(['relu', 'sigmoid', 'tanh', 'crelu', 'linear', 'leakyrelu']),
    cap: z.number().positive().optional(),
    /** Slope of leakyrelu below 0 (default 0.01). */
    alpha: z.number().min(0).lt(1).optional(),
  }),
  z.strictObject({ type: z.literal('flatten') }),
  z.strictObject({ type: z.literal('dropout'), rate: z.number().min(0).lt(1) }),
  /** Per-channel batch normalisation (last axis); running statistics are saved, not trained. */
  z.strictObject({
    type: z.literal('batchnorm'),
    eps: z.number().positive().optional(),
    momentum: z.number().gt(0).max(1).optional(),
  }),
  /** Element-wise sum of two or more inputs of one shape (a residual shortcut). Graphs only. */
  z.strictObject({ type: z.literal('add') }),
  /** Joins inputs along the channel (last) axis; the other axes must agree. Graphs only. */
  z.strictObject({ type: z.literal('concat') }),
  /** CorrectNet error compensation (compensation.ts): per-channel affine plus a rank-r residual. */
  z.strictObject({ type: z.literal('compensation'), rank: int(0), kernel: int(1).optional() }),
] as const;

export const layerSpecSchema = z.discriminatedUnion('type', layerVariants);

/** A node name: also the prefix of its parameters' names, so no dots; `input` is the network input. */
export const NODE_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
const nodeFields = {
  name: z.string().regex(NODE_NAME, 'a node name is letters, digits, _ or - (not starting with a digit)'),
  /** Names of the nodes (or `input`) this node reads; default: the node before it (the first: `input`). */
  inputs: z.array(z.string()).min(1).optional(),
};
export type NodeSpec = z.infer<typeof layerSpecSchema> & { name: string; inputs?: string[] };
export const nodeSpecSchema = z.discriminatedUnion(
  'type',
  layerVariants.map((v) => v.extend(nodeFields)) as unknown as Parameters<typeof z.discriminatedUnion>[1],
) as unknown as z.ZodType<NodeSpec>;

const inputShape = z.tuple([int(1), int(1), int(1)]);

export const sequentialSpecSchema = z.strictObject({
  /** [height, width, channels] of one input image (a flat input is [1, 1, n]). */
  inputShape,
  layers: z.array(layerSpecSchema).min(1),
});

export const graphSpecSchema = z.strictObject({
  inputShape,
  /** Nodes in an order where every node comes after the nodes it reads; the last is the output. */
  nodes: z.array(nodeSpecSchema).min(1),
});

export const modelSpecSchema = z.union([sequentialSpecSchema, graphSpecSchema]);

export type SequentialSpec = z.infer<typeof sequentialSpecSchema>;
export type GraphSpec = z.infer<typeof graphSpecSchema>;
export type ModelSpec = SequentialSpec | GraphSpec;

export { GRAPH_INPUT, isGraphSpec } from './graph.js';

/** Validates untrusted JSON into a ModelSpec, turning schema errors into one readable line. */
export function parseModelSpec(json: unknown, source: string): ModelSpec {
  const isGraph = !!json && typeof json === 'object' && 'nodes' in json;
  // Parse against the one schema the JSON means, so the message names the real problem.
  const r = (isGraph ? graphSpecSchema : sequentialSpecSchema).safeParse(json);
  if (r.success) return r.data;
  throw new XbarError(`invalid model spec in ${source}: ${formatIssues(r.error)}`);
}

export function formatIssues(err: z.ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
