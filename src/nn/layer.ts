import type { Kernels } from '../core/kernels.js';
import type { Rng } from '../core/rng.js';
import type { Param, Tensor } from './tensor.js';

/** What a forward pass needs besides its input; passed down, never held globally. */
export interface Context {
  kernels: Kernels;
  training: boolean;
  /** Dropout and other training-time randomness; required when training. */
  rng?: Rng;
  /**
   * The parameters being trained, when not all are (fine-tuning modules on a frozen network):
   * layers skip the gradients of the others, and backward stops below the first layer with one.
   */
  trainable?: ReadonlySet<Param>;
  /** false: dropout layers pass their input through while training (see TrainConfig.dropout). */
  dropout?: boolean;
}

/** Whether backward computes `p`'s gradient: every parameter, unless ctx.trainable names some. */
export function wantsGrad(ctx: Context, p: Param): boolean {
  return !ctx.trainable || ctx.trainable.has(p);
}

/** JSON description of one layer: the architecture part of a saved model. */
export type LayerSpec =
  | { type: 'dense'; units: number }
  | { type: 'conv2d'; filters: number; kernel: number; stride?: number; padding?: 'same' | 'valid'; pad?: number; bias?: boolean }
  | { type: 'maxpool'; size: number; stride?: number }
  | { type: 'avgpool'; size: number; stride?: number }
  | { type: 'globalavgpool' }
  | { type: 'activation'; fn: ActivationName; cap?: number; alpha?: number }
  | { type: 'flatten' }
  | { type: 'dropout'; rate: number }
  | { type: 'batchnorm'; eps?: number; momentum?: number }
  | { type: 'add' }
  | { type: 'concat' }
  | { type: 'compensation'; rank: number; kernel?: number };

export type ActivationName = 'relu' | 'sigmoid' | 'tanh' | 'crelu' | 'linear' | 'leakyrelu';

/**
 * One layer of a sequential network. forward() keeps what backward() needs (the last input or
 * mask); backward() takes dLoss/dOutput, accumulates parameter gradients and returns dLoss/dInput.
 */
export interface Layer {
  readonly spec: LayerSpec;
  readonly inShape: number[]; // without the batch dimension
  readonly outShape: number[];
  readonly params: Param[];
  forward(x: Tensor, ctx: Context): Tensor;
  /** needInputGrad=false (first layer): skip computing dLoss/dInput and return null. */
  backward(dy: Tensor, ctx: Context, needInputGrad?: boolean): Tensor | null;
}

/**
 * A layer that reads two or more inputs (add, concat): only in graph models. merge() is its
 * forward pass, split() its backward pass (one gradient per input, in input order).
 */
export interface MergeLayer extends Layer {
  readonly inShapes: number[][];
  merge(xs: Tensor[], ctx: Context): Tensor;
  split(dy: Tensor): Tensor[];
}

export const isMerge = (l: Layer): l is MergeLayer => 'merge' in l;
