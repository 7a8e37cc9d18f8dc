import { type Command, Option } from 'commander';
import { makeProgress } from '../core/progress-node.js';
import { hardwareText } from '../cost/format.js';
import { CIRCUIT_LIMITS } from '../crossbar/circuit.js';
import type { Summary } from '../crossbar/stats.js';
import { DEVICE_LIMITS, devicePresetNames } from '../device/config.js';
import { CHIP_NORMS } from '../mitigation/corrector/data.js';
import { describePopulation, SPATIAL_PATTERNS } from '../mitigation/population.js';
import type { HeldOutSummary } from '../study/corrector.js';
import { runCorrectEval, runCorrectStudy, runCorrectTrain, runCorrectTrainShard } from '../study/corrector-node.js';
import { choiceOption, common, DATA_DIR_HELP, floatOption, intOption, kernelsFrom, mappingOptions, pct, shardOption } from './options.js';

const chipOptions = (c: Command): Command =>
  mappingOptions(c)
    .requiredOption('-m, --model <dir>', 'folder of a saved model (xbar train --out)')
    .option('--device <preset|file>', `device preset (${devicePresetNames.join(', ')}) or a JSON device file`, 'reram-generic')
    .option('--sigma <x>', 'programming variation, log-normal sigma (default 0: defects only)', floatOption(0, DEVICE_LIMITS.programSigma))
    .option('--read-noise <x>', 'relative read noise per inference', floatOption(0, DEVICE_LIMITS.readNoise))
    .option('--levels <n>', 'programmable conductance levels, 0 = continuous', intOption(0, DEVICE_LIMITS.levels))
    .option('--array-size <n>', 'crossbar array rows and columns', intOption(2, CIRCUIT_LIMITS.arraySize))
    .addOption(new Option('--scaling <kind>', 'weight-to-conductance scaling').argParser(choiceOption(['layer', 'column'] as const)))
    .option('--population <file.json>', 'defect population as JSON (fields as the flags below; see docs/corrector.md)')
    .option('--patterns <list>', `defect types drawn per chip (default all six: ${SPATIAL_PATTERNS.join(',')})`)
    .option('--kinds <list>', 'stuck-cell kinds and weights, e.g. stuck-on=1,stuck-off=1,stuck-at=1 (default)')
    .option('--density <list>', 'density range per kind, e.g. stuck-on=0.1-0.3,stuck-off=0.4-1,stuck-at=0.3-0.8 (default)')
    .option('--level <range>', 'stuck-at level range in Gmin..Gmax (default 0.3-0.9)')
    .option('--layers <sets>', "weighted-layer sets, one drawn per chip, ';'-separated, e.g. '1;2;3;1,2,3', or last (default) or all")
    .addOption(
      new Option('--geometry <kind>', 'pattern position and size: random per chip (default) or fixed').argParser(
        choiceOption(['random', 'fixed'] as const),
      ),
    )
    .option('--hidden-voltages <layers>', 'also feed the neuron voltages of these hidden weighted layers, e.g. 2 or 1,2')
    .option('-s, --seed <n>', 'random seed; chip i of seed s is always the same chip', intOption(0, 2 ** 31 - 1), 1)
    .option('-d, --dataset <name>', 'dataset (default: the one the model was trained on)')
    .option('--data-dir <dir>', DATA_DIR_HELP)
    .option('--limit-test <n>', 'evaluate held-out chips on the first n test images', intOption(1));

const trainingOptions = (c: Command): Command =>
  c
    .option('--train-chips <n>', 'chips that give training samples (chips 0..n-1)', intOption(1, 1_000_000), 400)
    .option('--images-per-chip <n>', 'training images run on each training chip', intOption(1, 1_000_000), 500)
    .option('--eval-chips <n>', 'held-out chips to evaluate on (chips after the training ones)', intOption(0, 1_000_000), 100)
    .option('--norm-images <n>', "unlabelled images per chip for the 'stats' normalisation", intOption(0, 100_000), 200)
    .option('--calib-images <n>', "known images per chip for the 'calib' normalisation", intOption(0, 100_000), 20)
    .option('--ridge <x>', "'calib' prior towards the identity map, in images", floatOption(0, 1e6, { minExclusive: true }), 0.1)
    .option('-e, --epochs <n>', 'corrector training epochs', intOption(1, 100_000), 10)
    .option('-b, --batch-size <n>', 'corrector mini-batch size', intOption(1, 1 << 20), 256)
    .option('--lr <x>', 'corrector learning rate (Adam, cosine schedule)', floatOption(0, 10, { minExclusive: true }), 0.003);

function printHeldOut(h: HeldOutSummary, software: number): void {
  const s = (x: Summary) => `${pct(x.mean)} +- ${pct(x.std)} (min ${pct(x.min)}, 95% CI of mean [${pct(x.ci95[0])}, ${pct(x.ci95[1])}])`;
  console.log(`held-out chips: ${h.heldOutChips}; software accuracy ${pct(software)}`);
  console.log(`  uncorrected ${s(h.uncorrected)}`);
  console.log(`  corrected   ${s(h.corrected)}`);
  console.log('  defect type          chips  uncorrected  corrected');
  for (const [t, v] of Object.entries(h.byType))
    console.log(`  ${t.padEnd(20)} ${String(v.chips).padStart(5)}  ${pct(v.uncorrected).padStart(11)}  ${pct(v.corrected).padStart(9)}`);
}

export function registerCorrect(p: Command): void {
  const c = p
    .command('correct')
    .description("learned output corrector: a small network that reads a defective chip's output voltages and answers the class");

  common(
    trainingOptions(
      chipOptions(
        c
          .command('train')
          .description(
            'generate output voltages from many simulated defective chips, train a corrector on them, save it and test it on held-out chips',
          ),
      ),
    )
      .option('--hidden <widths>', "corrector hidden widths, e.g. 64,64, or 'linear'", '64,64')
      .addOption(
        new Option('--norm <kind>', 'per-chip normalisation: none (chip-agnostic), stats (unlabelled images), calib (known images)')
          .argParser(choiceOption(CHIP_NORMS))
          .default('calib'),
      )
      .option('--val-fraction <x>', 'share of training chips kept for validation', floatOption(0, 1, { maxExclusive: true }), 0.1)
      .option('-o, --out <dir>', 'save the corrector (corrector.json, model.json, weights.bin) and results.json here')
      .option(
        '--shard <K/N|auto>',
        "generate only shard K of N of the training chips' voltages and write them as a part to --out; xbar merge joins the parts and trains; auto, auto/N: from a Slurm array task or Kubernetes Indexed Job (docs/cluster.md)",
        shardOption,
      ),
  ).action((o) => {
    const progress = makeProgress(Boolean(o.quiet || o.json));
    if (o.shard) {
      const p = runCorrectTrainShard(o, kernelsFrom(o), progress);
      const text = `shard ${p.shard.k}/${p.shard.n}: training chips ${p.block.first}..${p.block.first + p.block.count - 1}, ${p.samples} samples, part written to ${o.out} (xbar merge joins the parts and trains)`;
      console.log(o.json ? JSON.stringify({ shard: p.shard, chips: p.block, samples: p.samples, out: o.out }, null, 2) : text);
      return;
    }
    const r = runCorrectTrain(o, kernelsFrom(o), progress);
    if (o.json) {
      const { chips: _c, ...held } = (r.result.heldOut ?? { chips: [] }) as Record<string, unknown>;
      console.log(JSON.stringify({ ...r.result, heldOut: r.result.heldOut ? held : null }, null, 2));
      return;
    }
    console.log(
      `trained corrector ${r.name} (${r.cost.parameters} parameters, ${r.cost.macs} multiply-adds = ${r.cost.relParameters.toFixed(2)}x / ${r.cost.relMacs.toFixed(2)}x the main network) ` +
        `on ${r.result.trainChips} chips, ${r.result.samples} samples${hardwareText(r.result.hardwareCost)}` +
        (r.valAccuracy !== null ? `; validation chips ${pct(r.valAccuracy)}` : '') +
        `; saved to ${o.out}`,
    );
    if (r.summary) printHeldOut(r.summary, r.software);
  });

  common(
    c
      .command('eval')
      .description('test a saved corrector on held-out chips (by default the chips after its training chips, same defect population)')
      .requiredOption('--corrector <dir>', 'folder of a saved corrector (xbar correct train --out)')
      .option('-m, --model <dir>', 'the main model (default: the one recorded in the corrector)')
      .option('-c, --chips <n>', 'held-out chips', intOption(1, 1_000_000), 100)
      .option('--first-chip <n>', 'first chip index (default: right after the training chips)', intOption(0))
      .option('-s, --seed <n>', "chip seed (default: the corrector's)", intOption(0, 2 ** 31 - 1))
      .option('--patterns <list>', 'override the defect types (e.g. one the corrector never saw)')
      .option(
        '--faults <spec>',
        "give every held-out chip this fault spec instead of population draws: any patterns, gradients, combinations, random faults or a defect-map file (.png, .csv, .json), e.g. 'row-gradient:density=0.05+random:sa1=0.002' or wafer.png@layers=2",
      )
      .option('--kinds <list>', 'override the stuck-cell kinds and weights')
      .option('--density <list>', 'override density ranges per kind')
      .option('--level <range>', 'override the stuck-at level range')
      .option('--layers <sets>', 'override the defect layer sets')
      .addOption(new Option('--geometry <kind>', 'random or fixed').argParser(choiceOption(['random', 'fixed'] as const)))
      .option('-d, --dataset <name>', 'dataset (default: the one the corrector was trained on)')
      .option('--data-dir <dir>', DATA_DIR_HELP)
      .option('--limit-test <n>', 'use only the first n test images', intOption(1))
      .option('-o, --out <dir>', 'write results.json here')
      .option(
        '--shard <K/N|auto>',
        'evaluate only shard K of N of the held-out chips and write its part to --out, for xbar merge; auto, auto/N: from a Slurm array task or Kubernetes Indexed Job (docs/cluster.md)',
        shardOption,
      ),
  ).action((o) => {
    const r = runCorrectEval(o, kernelsFrom(o), makeProgress(Boolean(o.quiet || o.json)));
    if (o.json) {
      const { chips: _c, ...rest } = r.result;
      console.log(JSON.stringify(rest, null, 2));
      return;
    }
    console.log(`corrector ${r.name} on ${o.faults ? `chips with --faults ${o.faults}` : describePopulation(r.pop)}`);
    printHeldOut(r.summary, r.software);
    if (o.out) console.log(`results written to ${o.out}`);
  });

  common(
    trainingOptions(
      chipOptions(
        c
          .command('study')
          .description(
            'the corrector experiments on one defect population: size x normalisation sweep, leave-one-defect-type-out matrix, calibration-image sweep, per-chip oracle, with costs',
          ),
      ),
    )
      .option('--sizes <list>', "corrector hidden widths to sweep, ';'-separated", 'linear;8;16;32;64;64,64;128,128')
      .option('--norms <list>', 'per-chip normalisations to sweep', 'none,stats,calib')
      .option('--main-size <widths>', 'corrector of the leave-one-out matrix and the calibration sweep', '64,64')
      .option('--no-loo', 'skip the leave-one-defect-type-out matrix')
      .option('--calib-sweep <list>', "calibration images per chip to sweep with 'calib' (or none)", '5,10,50,200')
      .option('--oracle-chips <n>', 'per-chip oracle on the first n held-out chips (0 = none)', intOption(0, 100_000), 10)
      .option('--oracle-images <n>', 'labelled images per oracle chip', intOption(1, 1_000_000), 5000)
      .option('-o, --out <dir>', 'write results.json and report.md here'),
  ).action((o) => {
    const r = runCorrectStudy(o, kernelsFrom(o), makeProgress(Boolean(o.quiet || o.json)));
    if (o.json) {
      const { heldOut: _h, ...rest } = r.result;
      console.log(JSON.stringify(rest, null, 2));
      return;
    }
    console.log(r.markdown);
    if (o.out) console.log(`results written to ${o.out}`);
  });
}
