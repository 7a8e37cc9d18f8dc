/**
 * The part of xbar that runs anywhere (browser included): no file system, portable kernels.
 * Node users get the same plus file I/O and native kernels from the main entry.
 */
export { XbarError } from './core/errors.js';
export type { Kernels } from './core/kernels.js';
export { jsKernels } from './core/kernels-js.js';
export { type Progress, silentProgress } from './core/progress.js';
export { Rng } from './core/rng.js';
export { costText, eng } from './cost/format.js';
export {
  AREA_PARTS,
  adcEnergy,
  blockCost,
  type CostLayer,
  costNetwork,
  type DigitalBlock,
  dacEnergy,
  ENERGY_PARTS,
  type LayerCost,
  layerCost,
  type NetworkCost,
} from './cost/model.js';
export {
  type ConductanceSource,
  compensationBlocks,
  correctorBlock,
  costLayers,
  costOfModel,
  measureActivity,
  type Overhead,
  overhead,
} from './cost/network.js';
export {
  type CostSummary,
  compensationRecoveryCost,
  correctorRecoveryCost,
  type RecoveryContext,
  type RecoveryCost,
  recoveryContext,
  recoveryCost,
} from './cost/recovery.js';
export { defaultTech, resolveTech, type Tech, type TechInput, techSchema } from './cost/tech.js';
export { type Chip, idealLayerWeights, type LayerChip, programChip } from './crossbar/chip.js';
export { type Circuit, type CircuitInput, circuitSchema, idealCircuit, resolveCircuit } from './crossbar/circuit.js';
export {
  type ChipResult,
  type MonteCarloConfig,
  type MonteCarloHooks,
  type MonteCarloResult,
  runMonteCarlo,
} from './crossbar/montecarlo.js';
export { type CrossbarPlan, type LayerPlan, planCrossbars, type Tile } from './crossbar/plan.js';
export {
  SIMULATE_RESULTS_FORMAT,
  SIMULATE_RESULTS_VERSION,
  type SimulatePoint,
  simulateResultsJson,
} from './crossbar/results.js';
export { SharedWork } from './crossbar/shared-work.js';
export { simulateBatch } from './crossbar/simulate.js';
export { type Summary, summarize } from './crossbar/stats.js';
export { wireTransfer } from './crossbar/wires.js';
export * from './data/index.js';
export { type Device, type DeviceInput, devicePresetNames, devicePresets, deviceSchema, resolveDevice } from './device/config.js';
export * from './faults/index.js';
export {
  type Corrector,
  type CorrectorShape,
  type CorrectorTraining,
  correctChip,
  correctorName,
  correctorSpec,
  networkCost,
  type TrainedCorrector,
  trainCorrector,
} from './mitigation/corrector/corrector.js';
export {
  type ChipNorm,
  type CorrectorEnv,
  evaluateChips,
  generateVoltageSet,
  type HeldOutChip,
  makeEnv,
  makeProbes,
  type ProbeConfig,
  type VoltageSet,
} from './mitigation/corrector/data.js';
export {
  describePopulation,
  type Population,
  type PopulationInput,
  populationSchema,
  resolvePopulation,
  SPATIAL_PATTERNS,
  type SpatialPattern,
} from './mitigation/population.js';
export { foldBatchNorm } from './nn/fold.js';
export type { ActivationName, Context, Layer, LayerSpec } from './nn/layer.js';
export { accuracy, argmaxRows, softmaxCrossEntropy } from './nn/loss.js';
export { buildModel, Model } from './nn/model.js';
export { makeOptimizer, type Optimizer, type OptimizerConfig, type OptimizerName } from './nn/optim.js';
export { getPreset, type Preset, presetNames, presets } from './nn/presets.js';
export { decodeModel, encodeWeights, MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelFile } from './nn/serialize.js';
export { type ModelSpec, modelSpecSchema, parseModelSpec } from './nn/spec.js';
export type { Param, Tensor } from './nn/tensor.js';
export { type EpochStats, evaluate, type TrainConfig, type TrainHooks, train } from './nn/train.js';
export { commandLine as simulateCommandLine, extractSimulate, type SimData } from './report/kinds/simulate.js';
export {
  type ChipOptions,
  type CorrectEvalOptions,
  type CorrectorSetup,
  type CorrectStudyOptions,
  type CorrectTrainOptions,
  correctorSetup,
  correctorStudy,
  evalCorrectorStudy,
  type HeldOutSummary,
  studyConfig as correctorStudyConfig,
  type TrainingOptions as CorrectorTrainingOptions,
  trainCorrectorStudy,
} from './study/corrector.js';
export { DEMO_DEFAULTS, type DemoConfig, type DemoResult, runDemoStudy } from './study/demo.js';
export { type EvalResult, evalStudy } from './study/eval.js';
export { checkCompatible, circuitFrom, type HardwareOptions } from './study/inputs.js';
export {
  parseSweep,
  parseTimes,
  type SimulateRun,
  type SimulateStudy,
  type SweepPoint,
  type SweepRow,
  simulateFiles,
  simulateStudy,
} from './study/simulate.js';
export { type TrainOptions, type TrainResult, trainConfig, trainStudy } from './study/train.js';
export { VERSION } from './version.js';
