import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { loadDataset } from '../data/node.js';
import { openModel } from '../onnx/open-node.js';
import { type EvalResult, evalStudy } from './eval.js';
import { checkCompatible } from './inputs.js';

export interface EvalOptions {
  model: string;
  dataset?: string;
  dataDir?: string;
  limitTest?: number;
}

/** `xbar eval`: the model and dataset the options name, then evalStudy. */
export function runEval(opts: EvalOptions, kernels: Kernels): EvalResult {
  const { model, file } = openModel(opts.model, opts);
  const datasetName = opts.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!datasetName) throw new XbarError(`${opts.model} does not record its dataset: pass --dataset`);
  const ds = loadDataset(datasetName, { dataDir: opts.dataDir, limitTest: opts.limitTest, limitTrain: 1 });
  checkCompatible(model.spec, ds, `model ${opts.model}`);
  return evalStudy(model, ds, kernels, opts.model);
}
