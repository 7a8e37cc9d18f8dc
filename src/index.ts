/** xbar's library API for Node: everything in the portable entry, plus files and native kernels. */
export * from './browser.js';
export { writeFileAtomic } from './core/fs-node.js';
export { loadKernels } from './core/kernels-node.js';
export * from './data/node.js';
export { loadModel, saveModel } from './nn/io-node.js';
export { loadFaultSpec } from './faults/node.js';
export * from './spice/index.js';
