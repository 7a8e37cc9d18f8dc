import { basename, resolve } from 'node:path';
import { XbarError } from '../core/errors.js';
import { saveModel } from '../nn/io-node.js';
import { importMeta, readOnnxFile, writeOnnxFile } from '../onnx/node.js';
import { type DataArgs, datasetShape, openModel } from '../onnx/open-node.js';
import { VERSION } from '../version.js';
import { inRunFolderSync } from './run-folder.js';

/** `xbar import` and `xbar export`: an ONNX file to a model folder (a run folder) and back. */

export interface ImportCliOptions extends DataArgs {
  out: string;
  normalize?: string;
}

export function runImport(file: string, o: ImportCliOptions) {
  const normalize = o.normalize === undefined ? undefined : parseNormalize(o.normalize);
  const ds = datasetShape(o);
  const { model, provenance } = readOnnxFile(file, { imageShape: ds?.imageShape, normalize });
  if (ds && model.outputSize !== ds.numClasses)
    throw new XbarError(
      `${file} has ${model.outputSize} outputs but dataset '${ds.name}' has ${ds.numClasses} classes: pick the matching --dataset`,
    );
  // Read and checked before anything is written; then the folder appears whole (with its
  // manifest) or not at all, and a re-import replaces an earlier one in one step.
  inRunFolderSync(
    { out: o.out, command: 'import', key: { sha256: provenance.sha256, normalize, dataset: ds }, inputs: [file, o.dataDir] },
    (run) => saveModel(run?.dir ?? o.out, model, importMeta(provenance, ds)),
  );
  return {
    out: o.out,
    spec: model.spec,
    layers: model.layers.length,
    parameters: model.parameterCount,
    onnx: provenance,
    dataset: ds?.name ?? null,
  };
}

function parseNormalize(v: string): { mean: number; std: number } {
  const parts = v.split(',').map((s) => Number(s.trim()));
  if (parts.length !== 2 || parts.some((x) => !Number.isFinite(x)) || !(parts[1] > 0))
    throw new XbarError(
      `--normalize '${v}' must be MEAN,STD with STD > 0, e.g. 0.1307,0.3081 (the network's input is (pixel - MEAN) / STD, pixels in [0, 1])`,
    );
  return { mean: parts[0], std: parts[1] };
}

export function runExport(o: { model: string; out: string } & DataArgs) {
  const { model } = openModel(o.model, o);
  const bytes = writeOnnxFile(model, o.out, { name: basename(resolve(o.model)), producerVersion: VERSION });
  return { out: o.out, bytes, parameters: model.parameterCount };
}
