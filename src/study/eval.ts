import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import type { Dataset } from '../data/dataset.js';
import { argmaxRows } from '../nn/loss.js';
import type { Model } from '../nn/model.js';
import { evaluate } from '../nn/train.js';

/** A network's accuracy on a test set (`xbar eval`), with its confusion matrix: data in, result out. */
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

/** `name` names the model in messages. */
export function evalStudy(model: Model, ds: Dataset, kernels: Kernels, name: string): EvalResult {
  const { accuracy, loss } = evaluate(model, ds.test, kernels);
  const k = ds.numClasses;
  if (model.outputSize !== k) throw new XbarError(`model ${name} has ${model.outputSize} outputs, dataset '${ds.name}' has ${k} classes`);
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
