/**
 * The part of xbar that runs anywhere (browser included): no file system, portable kernels.
 * Node users get the same plus file I/O and native kernels from the main entry.
 */
export { XbarError } from './core/errors.js';
export type { Kernels } from './core/kernels.js';
export { jsKernels } from './core/kernels-js.js';
export { Rng } from './core/rng.js';
export * from './data/index.js';
export type { ActivationName, Context, Layer, LayerSpec } from './nn/layer.js';
export { accuracy, argmaxRows, softmaxCrossEntropy } from './nn/loss.js';
export { buildModel, Model } from './nn/model.js';
export { makeOptimizer, type Optimizer, type OptimizerConfig, type OptimizerName } from './nn/optim.js';
export { getPreset, type Preset, presetNames, presets } from './nn/presets.js';
export { decodeModel, encodeWeights, MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelFile } from './nn/serialize.js';
export { type ModelSpec, modelSpecSchema, parseModelSpec } from './nn/spec.js';
export type { Param, Tensor } from './nn/tensor.js';
export { type EpochStats, evaluate, type TrainConfig, type TrainHooks, train } from './nn/train.js';
export { VERSION } from './version.js';
