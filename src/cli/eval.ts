import type { Command } from 'commander';
import { runEval } from '../study/eval-node.js';
import { common, DATA_DIR_HELP, intOption, kernelsFrom, pct } from './options.js';

/** `xbar eval`: src/study/eval-node.ts (runEval) does the work; this reads flags and prints. */
export function registerEval(p: Command): void {
  common(
    p
      .command('eval')
      .description('evaluate a saved model on a test set')
      .requiredOption('-m, --model <dir|file.onnx>', 'folder of a saved model, or a .onnx file (imported in memory)')
      .option('-d, --dataset <name>', 'dataset (default: the one it was trained on)')
      .option('--data-dir <dir>', DATA_DIR_HELP)
      .option('--limit-test <n>', 'use only the first n test images', intOption(1))
      .option('--allow-nonfinite', 'load a model holding NaN or Inf weights with a warning instead of refusing it'),
  ).action((o) => {
    const r = runEval(o, kernelsFrom(o), (w) => process.stderr.write(`warning: ${w}\n`));
    if (o.json) console.log(JSON.stringify(r, null, 2));
    else {
      console.log(`${o.model} on ${r.dataset}: test accuracy ${pct(r.accuracy)} (${r.samples} images), loss ${r.loss.toFixed(4)}`);
      console.log(`per class: ${r.perClassAccuracy.map((a, i) => `${i}:${pct(a)}`).join(' ')}`);
    }
  });
}
