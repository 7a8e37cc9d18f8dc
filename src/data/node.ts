/** The Node-only part of the data module: reading files from disk. Pure pieces are in ./index.js. */
export { readIdxFile } from './idx-node.js';
export { type DatasetName, datasetNames, FASHION_MNIST_DIR, type LoadOptions, loadDataset } from './load.js';
