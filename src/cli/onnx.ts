import type { Command } from 'commander';
import { datasetNames } from '../data/node.js';
import { runExport, runImport } from '../study/import-node.js';
import { DATA_DIR_HELP, output } from './options.js';

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
