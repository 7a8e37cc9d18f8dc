import { type Command, Option } from 'commander';
import { makeProgress } from '../core/progress-node.js';
import { datasetNames } from '../data/node.js';
import { presets } from '../nn/presets.js';
import { runTrain } from '../study/train-node.js';
import { choiceOption, common, DATA_DIR_HELP, floatOption, intOption, kernelsFrom, pct } from './options.js';

/** `xbar train`: the study is src/study/train-node.ts (runTrain); this reads flags and prints. */
export function registerTrain(p: Command): void {
  common(
    p
      .command('train')
      .description('train a network on a dataset and save it')
      .requiredOption(
        '-m, --model <preset|file>',
        `a preset (${Object.keys(presets).join(', ')}), a JSON model spec, or a saved model folder / .onnx file (its architecture; --init for its weights)`,
      )
      .option('-d, --dataset <name>', `dataset (${datasetNames.join(', ')}); default: the preset's`)
      .option('--data-dir <dir>', DATA_DIR_HELP)
      .option('-e, --epochs <n>', "epochs (default: the preset's)", intOption(1, 100000))
      .option('-b, --batch-size <n>', 'mini-batch size', intOption(1, 1 << 20))
      .option('--lr <x>', 'learning rate', floatOption(0, 10, { minExclusive: true }))
      .addOption(new Option('--optimizer <name>', 'adam or sgd').argParser(choiceOption(['adam', 'sgd'] as const)))
      .option('--momentum <x>', 'SGD momentum', floatOption(0, 1, { maxExclusive: true }))
      .option('--weight-decay <x>', 'decoupled weight decay', floatOption(0, 1))
      .addOption(new Option('--schedule <kind>', 'learning-rate schedule').argParser(choiceOption(['cosine', 'constant'] as const)))
      .option('-s, --seed <n>', 'random seed (weights, split, shuffling)', intOption(0, 2 ** 31 - 1), 1)
      .option('--val-fraction <x>', 'share of the training set held out for validation', floatOption(0, 1, { maxExclusive: true }), 0.1)
      .option('--limit-train <n>', 'use only the first n training images', intOption(1))
      .option('--limit-test <n>', 'use only the first n test images', intOption(1))
      .option('-o, --out <dir>', 'save the trained model to this folder')
      .option('--init <dir>', 'start from this saved model (same architecture): fine-tuning')
      .addOption(
        new Option(
          '--lipschitz <kind>',
          'Lipschitz regulariser: orthogonal (||W^T W - I||^2) or spectral (spectral norm above a bound)',
        ).argParser(choiceOption(['orthogonal', 'spectral'] as const)),
      )
      .option('--lambda <x>', 'weight of the Lipschitz penalty', floatOption(0, 1e6))
      .option(
        '--lipschitz-bound <x>',
        'spectral norm allowed per layer before the spectral penalty starts (default 1)',
        floatOption(0, 1e6, { minExclusive: true }),
      )
      .option('--lipschitz-iterations <n>', 'power iterations per step for the spectral norm (default 1, warm-started)', intOption(1, 1000))
      .option(
        '--noise-sigma <x>',
        'noise-injection training: log-normal conductance variation of a fresh simulated chip in every forward pass',
        floatOption(0, 10),
      )
      .option('--noise-read-noise <x>', 'noise-injection training: relative read noise, one draw per mini-batch', floatOption(0, 10))
      .option('--noise-device <preset>', 'device preset whose conductance mapping the injected noise follows (default reram-generic)')
      .option(
        '--noise-ramp <x>',
        'share of the training steps over which the injected noise grows from 0 to its full level',
        floatOption(0, 1),
      )
      .option(
        '--noise-rails',
        "noise-injection training: clip each layer's outputs at the chip's neuron rails (calibrated each epoch), as the simulator does; for deep networks",
      ),
  ).action((o) => {
    const kernels = kernelsFrom(o);
    const progress = makeProgress(Boolean(o.quiet || o.json));
    const r = runTrain(o, kernels, progress);
    const summary = {
      model: o.model,
      dataset: r.dataset.name,
      epochs: r.config.epochs,
      seed: o.seed,
      parameters: r.model.parameterCount,
      testAccuracy: r.testAccuracy,
      testLoss: r.testLoss,
      finalValAccuracy: r.history[r.history.length - 1]?.valAccuracy ?? null,
      trainSeconds: r.seconds,
      kernels: kernels.name,
      out: o.out ?? null,
    };
    if (o.json) console.log(JSON.stringify(summary, null, 2));
    else
      console.log(
        `trained ${o.model} on ${r.dataset.name}: test accuracy ${pct(r.testAccuracy)} (${r.dataset.test.n} images), ` +
          `${r.model.parameterCount} parameters, ${r.seconds.toFixed(1)} s` +
          (o.out ? `, saved to ${o.out}` : ''),
      );
  });
}
