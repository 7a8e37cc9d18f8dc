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
  /** Load a model holding NaN or Inf weights, with a warning, instead of refusing it. */
  allowNonfinite?: boolean;
}

/** `xbar eval`: the model and dataset the options name, then evalStudy; `warn` hears about a model that loads with NaN or Inf weights. */
export function runEval(opts: EvalOptions, kernels: Kernels, warn: (line: string) => void = () => {}): EvalResult {
  const { model, file, warnings } = openModel(opts.model, opts, { nonFinite: opts.allowNonfinite ? 'warn' : 'refuse' });
  for (const w of warnings) warn(w);
  const datasetName = opts.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!datasetName) throw new XbarError(`${opts.model} does not record its dataset: pass --dataset`);
  const ds = loadDataset(datasetName, { dataDir: opts.dataDir, limitTest: opts.limitTest, limitTrain: 1 });
  checkCompatible(model.spec, ds, `model ${opts.model}`);
  return evalStudy(model, ds, kernels, opts.model);
}
