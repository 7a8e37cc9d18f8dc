/** The browser-safe part of the data module; Node-only loaders are in ./node.js. */

export { areaDownsample, type Dataset, downsampleDigits8, fromIdx, type Split, subset, take, trainValSplit } from './dataset.js';
export { decodeIdx, type IdxArray, type IdxData, isGzip } from './idx.js';
