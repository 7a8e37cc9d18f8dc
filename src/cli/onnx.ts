import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { XbarError } from '../core/errors.js';
import { datasetNames, loadDataset } from '../data/node.js';
import { loadModel, saveModel } from '../nn/io-node.js';
import type { Model } from '../nn/model.js';
import { checkFinite, type DecodeOptions, type ModelFile } from '../nn/serialize.js';
import { importMeta, inMemoryFile, isOnnxPath, readOnnxFile, writeOnnxFile } from '../onnx/node.js';
import { inRunFolderSync } from '../study/run-folder.js';
import { VERSION } from '../version.js';
import { DATA_DIR_HELP, output } from './common.js';

/** The dataset a .onnx import is checked against: a name, or a folder of the user's data. */
interface DataArgs {
  dataset?: string;
  dataDir?: string;
}

/** The dataset's name and image shape, without keeping its images (the import only needs the shape). */
function datasetShape(o: DataArgs) {
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

export function registerOnnx(p: Command): void {
  output(
    p
      .command('import')
      .description('convert an ONNX model (from PyTorch, Keras, ...) into an xbar model folder that every command reads')
      .argument('<file>', 'the .onnx file')
      .requiredOption('-o, --out <dir>', 'the model folder to write')
      .option('-d, --dataset <name>', `the dataset it runs on (${datasetNames.join(', ')}, or any name with --data-dir of NumPy files)`)
      .option('--data-dir <dir>', DATA_DIR_HELP)
      .option('--normalize <mean,std>', 'the network expects (pixel - mean) / std of [0, 1] pixels: folded into its first layer'),
  ).action((file: string, o) => {
    const r = runImport(file, o);
    if (o.json) console.log(JSON.stringify(r, null, 2));
    else
      console.log(
        `imported ${file} (${r.onnx.producer} ${r.onnx.producerVersion}, opset ${r.onnx.opset}): ${r.layers} layers, ${r.parameters} parameters, saved to ${r.out}` +
          (r.onnx.transformations.length ? `\n${r.onnx.transformations.map((t) => `  ${t}`).join('\n')}` : ''),
      );
  });

  output(
    p
      .command('export')
      .description('write an xbar model as an ONNX file (opset 17, NCHW input) for PyTorch or any ONNX runtime')
      .requiredOption('-m, --model <dir>', 'folder of a saved model')
      .requiredOption('-o, --out <file>', 'the .onnx file to write'),
  ).action((o) => {
    const r = runExport(o);
    if (o.json) console.log(JSON.stringify(r, null, 2));
    else console.log(`exported ${o.model} (${r.parameters} parameters) to ${r.out}, ${r.bytes} bytes`);
  });
}
