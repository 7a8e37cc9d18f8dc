/** xbar's library API for Node: everything in the portable entry, plus files and native kernels. */
export * from './browser.js';
export { writeFileAtomic } from './core/fs-node.js';
export { loadKernels } from './core/kernels-node.js';
export { type Progress, silentProgress } from './core/progress.js';
export { makeProgress } from './core/progress-node.js';
export * from './data/node.js';
export { loadFaultSpec } from './faults/node.js';
export {
  type ChipCalibration,
  type ChipCalibrationConfig,
  calibrateChip,
  calibratedChipAccuracy,
  calibrationSites,
  withChipRails,
} from './mitigation/correctnet/calibration.js';
export {
  type CompensationSite,
  type CompensationTrainConfig,
  type Cost,
  compensatedSpec,
  compensationCost,
  networkCost as baseNetworkCost,
  siteCost,
  sitesOf,
  trainCompensation,
  withCompensation,
  withoutCompensation,
} from './mitigation/correctnet/compensation.js';
export {
  type Calibration,
  compensationPlacementProblem,
  configSites,
  errorAmplification,
  type LayerAmplification,
  type LayerSensitivity,
  layerSensitivity,
  type PlacementSetup,
  softwareChipAccuracy,
} from './mitigation/correctnet/correctnet.js';
export {
  type CurvePoint,
  type Evaluation,
  Evaluator,
  exhaustiveSearch,
  greedyPlacement,
  type PlacementProblem,
  type PlacementSite,
  REINFORCE_DEFAULTS,
  type ReinforceConfig,
  type RlResult,
  reinforcePlacement,
  type SearchResult,
} from './mitigation/correctnet/placement.js';
export { loadCorrector, saveCorrector } from './mitigation/corrector/io-node.js';
export { runStudy, type StudyConfig, type StudyResult } from './mitigation/corrector/study.js';
export {
  type LipschitzConfig,
  type LipschitzKind,
  LipschitzRegularizer,
  layerSpectralNorms,
  lipschitzKinds,
  orthogonalPenalty,
  type SpectralResult,
  spectralNorm,
  spectralPenalty,
} from './mitigation/lipschitz.js';
export { composeStepHooks, perturbLayer, Rails, WeightNoise, type WeightNoiseConfig } from './mitigation/noise.js';
export { Compensation } from './nn/compensation.js';
export { loadModel, saveModel } from './nn/io-node.js';
export { openModel } from './onnx/open-node.js';
export * from './spice/index.js';
export { type CorrectnetOptions, markdownTable as correctnetTable, runCorrectnet } from './study/correctnet-node.js';
export { runCorrectEval, runCorrectStudy, runCorrectTrain } from './study/corrector-node.js';
export { type CostOptions, runCost } from './study/cost-node.js';
export { runDemoFolder } from './study/demo-node.js';
export { type EvalOptions, runEval } from './study/eval-node.js';
export { type ImportCliOptions, runExport, runImport } from './study/import-node.js';
export { deviceFrom, loadTech, resolveModel } from './study/inputs-node.js';
export { runSimulate, type SimulateOptions } from './study/simulate-node.js';
export { runSpiceCompare, runSpiceExport, type SpiceCompareOptions, type SpiceExportOptions } from './study/spice-node.js';
export { runTrain } from './study/train-node.js';
