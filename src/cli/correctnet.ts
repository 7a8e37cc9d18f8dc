import { type Command, Option } from 'commander';
import type { Shard } from '../cluster/shard.js';
import { makeProgress } from '../core/progress-node.js';
import { REINFORCE_DEFAULTS } from '../mitigation/correctnet/placement.js';
import { type CorrectnetOptions, correctnetShard, markdownTable, prepareCorrectnet, runCorrectnet } from '../study/correctnet-node.js';
import { choiceOption, common, DATA_DIR_HELP, floatOption, intOption, kernelsFrom, pct, shardOption } from './options.js';

/** `xbar correctnet`: the pipeline is src/study/correctnet-node.ts (runCorrectnet); this reads flags and prints. */
export function registerCorrectnet(p: Command): void {
  common(
    p
      .command('correctnet')
      .description(
        'CorrectNet end to end: plain, noise-injection and Lipschitz-regularised networks, RL-placed error compensation, and a sigma sweep over simulated chips',
      )
      .requiredOption(
        '-m, --model <preset|file|dir>',
        'a preset or JSON spec to train the plain network from, or the folder of a trained one',
      )
      .requiredOption('-o, --out <dir>', 'folder for the models, step caches, results.json, table.md and rl-curve.csv (rerunning resumes)')
      .option('-d, --dataset <name>', "dataset (default: the preset's or the model's)")
      .option('--data-dir <dir>', DATA_DIR_HELP)
      .option('--limit-train <n>', 'use only the first n training images', intOption(1))
      .option('--limit-test <n>', 'use only the first n test images', intOption(1))
      .option('--sigmas <list>', 'programming variation (log-normal sigma) of the sweep', '0,0.2,0.4,0.6,0.8,1,1.2')
      .option('-c, --chips <n>', 'simulated chips per sweep point', intOption(1, 1_000_000), 50)
      .option('-s, --seed <n>', 'random seed (chips, placement, training)', intOption(0, 2 ** 31 - 1), 1)
      .option('--device <preset>', 'device preset (sigma is set by the sweep)', 'reram-generic')
      .option(
        '--read-noise <x>',
        'relative read noise, on top of the variation, in every sweep point and in noise-injection training',
        floatOption(0, 10),
      )
      .option(
        '--target-sigma <x>',
        "sigma to train and place compensation for: a number, or 'auto' = where the plain network falls below 20%",
        'auto',
      )
      .option('--plain-epochs <n>', "epochs for the plain network (default: the preset's)", intOption(1, 100000))
      .option(
        '--finetune-epochs <n>',
        'epochs of noise-injection and of Lipschitz fine-tuning from the plain network',
        intOption(1, 100000),
        5,
      )
      .addOption(
        new Option('--lipschitz <kind>', 'Lipschitz regulariser')
          .argParser(choiceOption(['orthogonal', 'spectral'] as const))
          .default('spectral'),
      )
      .option('--lambda <x>', 'weight of the Lipschitz penalty', floatOption(0, 1e6), 0.01)
      .option(
        '--lipschitz-bound <x>',
        'spectral norm allowed per layer (spectral regulariser)',
        floatOption(0, 1e6, { minExclusive: true }),
        1,
      )
      .option('--noise-sigma <x>', 'sigma of noise-injection training (default: the target sigma)', floatOption(0, 10))
      .option('--noise-ramp <x>', 'share of the noise-injection steps over which the noise grows from 0', floatOption(0, 1), 0.5)
      .option('--noise-rails', "noise-injection training through the chip's neuron rails (xbar train --noise-rails); for deep networks")
      .option('--budget <x>', 'compensation overhead budget, share of the network parameters', floatOption(0, 10), 0.05)
      .option(
        '--ranks <list>',
        'module sizes the placement can choose at each site (rank of the bottleneck; 0 = per-channel affine)',
        '4,16',
      )
      .option('--comp-kernel <n>', 'spatial kernel of modules after convolutional layers', intOption(1, 15), 1)
      .option('--comp-epochs <n>', 'epochs of compensation training (full training set)', intOption(1, 100000), 3)
      .option('--comp-lr <x>', 'learning rate of compensation training', floatOption(0, 10, { minExclusive: true }), 0.003)
      .option('--search <list>', 'placement searches to run: rl (required), greedy, exhaustive', 'rl,greedy,exhaustive')
      .option('--max-exhaustive <n>', 'skip the exhaustive search beyond this many configurations', intOption(1), 100)
      .option('--episodes <n>', 'REINFORCE episodes (at most)', intOption(1, 1_000_000), 200)
      .option(
        '--rl-batch <n>',
        'REINFORCE episodes per policy update (fewer = more updates from costly evaluations)',
        intOption(1, 100000),
        REINFORCE_DEFAULTS.batch,
      )
      .option(
        '--rl-lr <x>',
        'learning rate of the REINFORCE policy (Adam)',
        floatOption(0, 100, { minExclusive: true }),
        REINFORCE_DEFAULTS.lr,
      )
      .option('--search-train <n>', 'training images per placement evaluation', intOption(1), 10000)
      .option('--search-epochs <n>', 'compensation training epochs per placement evaluation', intOption(1, 1000), 1)
      .option('--search-chips <n>', 'software chips per placement evaluation and per sensitivity measurement', intOption(1, 100000), 8)
      .option('--val-images <n>', 'validation images for placement rewards and sensitivity', intOption(1), 2000)
      .option('--overhead-weight <x>', 'reward = accuracy - weight x overhead share', floatOption(0, 1e6), 0.1)
      .addOption(
        new Option(
          '--overhead-measure <kind>',
          "what a module's overhead (budget and reward) measures: its parameters, or the energy or latency per inference it adds on the chip (docs/cost.md)",
        )
          .argParser(choiceOption(['params', 'energy', 'latency'] as const))
          .default('params'),
      )
      .option('--tech <file>', 'technology file for the energy, latency and area figures (default src/cost/tech/default.json)')
      .option('--workers <n>', 'worker threads for the chips (default: all cores; 1 = no workers)', intOption(1, 256))
      .option(
        '--calibrate <list>',
        'per-chip calibration: training images per chip (labelled unless --calibrate-loss kd), e.g. 250,1000,5000; adds columns plain+cal<n> and lipschitz+cal<n> at the target sigma',
      )
      .option('--calibrate-epochs <n>', 'epochs of per-chip calibration', intOption(1, 100000), 20)
      .option('--calibrate-lr <x>', 'learning rate of per-chip calibration', floatOption(0, 10, { minExclusive: true }), 0.003)
      .option('--calibrate-chips <n>', 'chips to calibrate and test (default: --chips)', intOption(1, 1_000_000))
      .option('--calibrate-ranks <list>', 'module sizes for the per-chip calibrated modules (default: --ranks)')
      .option('--calibrate-loss <kind>', 'what per-chip calibration fits: ce (the labels) or kd (the clean network, no labels)', 'ce')
      .option('--calibrate-bases <list>', 'networks that get per-chip calibrated columns: plain, lipschitz', 'plain,lipschitz')
      .option(
        '--calibrate-search <n>',
        'place the calibrated modules by the placement searches (--search; the RL choice is used): each evaluation calibrates --search-chips chips on n training images; default: a module after every layer, sized by the budget',
        intOption(1),
      )
      .option(
        '--calibrate-search-epochs <n>',
        "epochs of each search chip's calibration (default: --calibrate-epochs)",
        intOption(1, 100000),
      )
      .option('--calibrate-search-chips <n>', 'chips per evaluation of --calibrate-search (default: --search-chips)', intOption(1, 100000))
      .option(
        '--calibrate-search-remeasure <k>',
        "measure the RL search's best k configurations again with the final calibration (2 search chips) and keep the best",
        intOption(1, 1000),
      )
      .option('--calibrate-search-episodes <n>', 'REINFORCE episodes of --calibrate-search (default: --episodes)', intOption(1, 1_000_000))
      .option(
        '--prepare',
        'compute only the steps every shard shares (networks, placement, compensation; the plain sweep when --target-sigma is auto) into --out, for the shards to --reuse (docs/cluster.md)',
      )
      .option(
        '--shard <K/N|auto>',
        "run only shard K of N of the chip evaluations (sweep chips; per-chip calibrations) and write its part to --out, for xbar merge; auto, auto/N: a Slurm array task's or Kubernetes Indexed Job's shard (docs/cluster.md)",
        shardOption,
      )
      .option('--reuse <dir>', "take the steps a finished run folder holds (a --prepare run's) instead of computing them"),
  ).action(async (o) => {
    const quiet = Boolean(o.quiet || o.json);
    const progress = makeProgress(quiet);
    if (o.prepare) {
      const p = await prepareCorrectnet(o as CorrectnetOptions, kernelsFrom(o), progress);
      if (o.json) console.log(JSON.stringify({ prepared: o.out, targetSigma: p.targetSigma }, null, 2));
      else console.log(`shared steps prepared in ${o.out} (target sigma ${p.targetSigma}): run the shards with --reuse ${o.out}`);
      return;
    }
    if (o.shard) {
      const { share } = await correctnetShard(o as CorrectnetOptions & { shard: Shard }, kernelsFrom(o), progress);
      const text = `shard ${o.shard.k}/${o.shard.n}: ${share.sweep.count} sweep chips and ${share.calibration.count} calibrated chips, part written to ${o.out} (xbar merge joins the parts)`;
      console.log(
        o.json
          ? JSON.stringify({ shard: o.shard, sweepChips: share.sweep.count, calibratedChips: share.calibration.count, out: o.out }, null, 2)
          : text,
      );
      return;
    }
    const r = await runCorrectnet(o as CorrectnetOptions, kernelsFrom(o), progress);
    if (o.json) {
      console.log(JSON.stringify({ headline: r.headline, out: o.out }, null, 2));
      return;
    }
    console.log(markdownTable(r));
    const h = r.headline;
    console.log(
      `target sigma ${h.targetSigma}: plain ${pct(h.plainAtTarget)}, lipschitz+comp ${pct(h.lipschitzCompAtTarget)} (${pct(h.lipschitzCompShareOfClean)} of the plain network's clean ${pct(h.plainClean)}), noise+comp ${pct(h.noiseCompAtTarget)}; compensation ${pct(h.compensationParamsShare)} of parameters`,
    );
    for (const c of h.calibrated)
      console.log(
        `  ${c.method}: ${pct(c.atTarget)} (${pct(c.shareOfClean)} of clean), ${pct(c.paramsShare)} of parameters, ${c.images} images and ${c.secondsPerChip.toFixed(1)} s per chip`,
      );
    console.log(`results in ${o.out}`);
  });
}
