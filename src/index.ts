/** xbar's library API for Node: everything in the portable entry, plus files and native kernels. */
export * from './browser.js';
export { writeFileAtomic } from './core/fs-node.js';
export { loadKernels } from './core/kernels-node.js';
export * from './data/node.js';
export { loadModel, saveModel } from './nn/io-node.js';
export { loadFaultSpec } from './faults/node.js';
export * from './spice/index.js';
export { type Corrector, type CorrectorShape, correctChip, correctorSpec, networkCost, type TrainedCorrector, trainCorrector } from './mitigation/corrector.js';
export { evaluateChips, generateVoltageSet, makeEnv, makeProbes, type VoltageSet } from './mitigation/corrector-data.js';
export { loadCorrector, saveCorrector } from './mitigation/corrector-io.js';
export { type Population, populationSchema, resolvePopulation } from './mitigation/corrector-population.js';
export { runStudy, type StudyConfig, type StudyResult } from './mitigation/corrector-study.js';
