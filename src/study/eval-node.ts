import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { loadDataset } from '../data/node.js';
import { argmaxRows } from '../nn/loss.js';
import { evaluate } from '../nn/train.js';
import { openModel } from '../onnx/convert-node.js';
import { checkCompatible } from './inputs.js';

export interface EvalOptions {
  model: string;
  dataset?: string;
  dataDir?: string;
  limitTest?: number;
}

export interface EvalResult {
  dataset: string;
  samples: number;
  accuracy: number;
  loss: number;
  /** confusion[true][predicted] */
  confusion: number[][];
  perClassAccuracy: number[];
  parameters: number;
}

export function runEval(opts: EvalOptions, kernels: Kernels): EvalResult {
  const { model, file } = openModel(opts.model, opts);
  const datasetName = opts.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!datasetName) throw new XbarError(`${opts.model} does not record its dataset: pass --dataset`);
  const ds = loadDataset(datasetName, { dataDir: opts.dataDir, limitTest: opts.limitTest, limitTrain: 1 });
  checkCompatible(model.spec, ds, `model ${opts.model}`);
  const { accuracy, loss } = evaluate(model, ds.test, kernels);
  const k = ds.numClasses;
  if (model.outputSize !== k)
    throw new XbarError(`model ${opts.model} has ${model.outputSize} outputs, dataset '${ds.name}' has ${k} classes`);
  const pred = argmaxRows(model.predict(ds.test.x, ds.test.n, kernels), k);
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < pred.length; i++) confusion[ds.test.y[i]][pred[i]]++;
  const perClassAccuracy = confusion.map(
    (row, i) =>
      row[i] /
      Math.max(
        1,
        row.reduce((a, b) => a + b, 0),
      ),
  );
  return { dataset: ds.name, samples: ds.test.n, accuracy, loss, confusion, perClassAccuracy, parameters: model.parameterCount };
}
