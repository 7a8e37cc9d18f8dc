import { loadDataset } from '../data/node.js';
import { loadModel } from '../nn/io-node.js';
import type { Model } from '../nn/model.js';
import { checkFinite, type DecodeOptions, type ModelFile } from '../nn/serialize.js';
import { importMeta, inMemoryFile, isOnnxPath, readOnnxFile } from './node.js';

/** The dataset a .onnx import is checked against: a name, or a folder of the user's data. */
export interface DataArgs {
  dataset?: string;
  dataDir?: string;
}

/** The dataset's name and image shape, without keeping its images (the import only needs the shape). */
export function datasetShape(o: DataArgs) {
  if (!o.dataset && !o.dataDir) return null;
  const ds = loadDataset(o.dataset ?? 'custom', { dataDir: o.dataDir, limitTrain: 1, limitTest: 1 });
  return { name: ds.name, dataDir: o.dataDir, numClasses: ds.numClasses, classNames: ds.classNames, imageShape: ds.inputShape };
}

/**
 * A --model argument of any command: a saved model folder, or a .onnx file imported in memory
 * (checked against --dataset / --data-dir, as `xbar import` would).
 */
export function openModel(arg: string, o: DataArgs = {}, opts: DecodeOptions = {}): { model: Model; file: ModelFile; warnings: string[] } {
  if (!isOnnxPath(arg)) return loadModel(arg, opts);
  const ds = datasetShape(o);
  const { model, provenance } = readOnnxFile(arg, { imageShape: ds?.imageShape });
  return { model, file: inMemoryFile(model, importMeta(provenance, ds)), warnings: checkFinite(model, arg, opts.nonFinite) };
}
