#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { XbarError } from '../core/errors.js';
import { loadKernels } from '../core/kernels-node.js';
import { eng } from '../cost/format.js';
import { datasetNames } from '../data/node.js';
import { devicePresetNames } from '../device/config.js';
import { presets } from '../nn/presets.js';
import { VERSION } from '../version.js';
import { registerCluster } from './cluster.js';
import { common, DATA_DIR_HELP, kernelsFrom, pct } from './common.js';
import { registerCorrect } from './correct.js';
import { registerCorrectnet } from './correctnet.js';
import { registerCost } from './cost.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { runEval } from './eval.js';
import { drawFaults } from './maps.js';
import { registerOnnx } from './onnx.js';
import { choiceOption, floatOption, intOption, mappingOptions, shardOption } from './options.js';
import { makeProgress } from './progress.js';
import { registerReport } from './report.js';
import { runSimulate } from './simulate.js';
import { registerSpice } from './spice.js';
import { runTrain } from './train.js';

function program(): Command {
  const p = new Command('xbar')
    .description('Analog in-memory computing toolkit: train networks, simulate them on ReRAM crossbars, recover accuracy.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

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

  common(
    p
      .command('eval')
      .description('evaluate a saved model on a test set')
      .requiredOption('-m, --model <dir|file.onnx>', 'folder of a saved model, or a .onnx file (imported in memory)')
      .option('-d, --dataset <name>', 'dataset (default: the one it was trained on)')
      .option('--data-dir <dir>', DATA_DIR_HELP)
      .option('--limit-test <n>', 'use only the first n test images', intOption(1)),
  ).action((o) => {
    const r = runEval(o, kernelsFrom(o));
    if (o.json) console.log(JSON.stringify(r, null, 2));
    else {
      console.log(`${o.model} on ${r.dataset}: test accuracy ${pct(r.accuracy)} (${r.samples} images), loss ${r.loss.toFixed(4)}`);
      console.log(`per class: ${r.perClassAccuracy.map((a, i) => `${i}:${pct(a)}`).join(' ')}`);
    }
  });

  common(
    mappingOptions(p.command('simulate'))
      .description('evaluate a saved model on many simulated ReRAM crossbar chips (Monte Carlo)')
      .requiredOption('-m, --model <dir|file.onnx>', 'folder of a saved model, or a .onnx file (imported in memory)')
      .option('--device <preset|file>', `device preset (${devicePresetNames.join(', ')}) or a JSON device file`, 'reram-generic')
      .option('--sigma <x>', 'programming variation: log-normal sigma (overrides the device)', floatOption(0, 10))
      .option('--read-noise <x>', 'relative read noise per inference (overrides the device)', floatOption(0, 10))
      .option('--levels <n>', 'programmable conductance levels, 0 = continuous (overrides the device)', intOption(0, 1 << 20))
      .option(
        '--faults <spec>',
        "stuck-at faults, e.g. 'random:sa0=0.0175,sa1=0.0904' or 'circle:radius=0.3@layers=0' (see docs/faults.md)",
      )
      .option('-c, --chips <n>', 'number of simulated chips', intOption(1, 1_000_000), 100)
      .option('-s, --seed <n>', 'random seed; chip i of seed s is always the same chip', intOption(0, 2 ** 31 - 1), 1)
      .option('--array-size <n>', 'crossbar array rows and columns (a weight uses 2 columns)', intOption(2, 1 << 16))
      .option('--dac-bits <n>', 'input DAC bits (0 = analog inputs)', intOption(0, 24))
      .option('--adc-bits <n>', 'ADC bits at tile outputs (0 = none)', intOption(0, 24))
      .option('--adc-offset <lsb>', 'static offset of each ADC, std in LSB, drawn once per chip (needs --adc-bits)', floatOption(0, 1e6))
      .option(
        '--adc-gain-error <x>',
        'static gain error of each ADC, relative std, drawn once per chip (needs --adc-bits)',
        floatOption(0, 10),
      )
      .option('--adc-noise <lsb>', 'noise of every ADC conversion, std in LSB (needs --adc-bits)', floatOption(0, 1e6))
      .option('--dac-inl <lsb>', 'input DAC integral non-linearity, bow-shaped, LSB at mid-code (needs --dac-bits)', floatOption(0, 1e6))
      .option(
        '--wire-resistance <ohm>',
        'wire resistance per cell-to-cell segment (IR drop; solved once per chip and array)',
        floatOption(0, 1e6),
      )
      .addOption(
        new Option('--scaling <kind>', 'weight-to-conductance scaling: per layer, or per output column (a TIA gain each)').argParser(
          choiceOption(['layer', 'column'] as const),
        ),
      )
      .option('--no-saturate', 'neurons do not saturate at the rail')
      .option('--ideal', 'ideal periphery: no DAC/ADC, no saturation, ideal wires')
      .option('-d, --dataset <name>', 'dataset (default: the one the model was trained on)')
      .option('--data-dir <dir>', DATA_DIR_HELP)
      .option('--limit-test <n>', 'use only the first n test images', intOption(1))
      .option(
        '--sweep <key=values>',
        'sweep one setting: sigma, read-noise, levels, adc-bits, dac-bits, adc-offset, adc-gain-error, adc-noise, dac-inl, array-size, wire-resistance, fault-rate, density, time, drift-compensation, mapping, cells-per-weight, faults (;-separated), layers (;-separated)',
      )
      .option(
        '--time <times>',
        'read the chips at these times after programming (drift, relaxation, 1/f noise of the device), e.g. 1s,1h,1d,1mo,1y; several times age the same chips',
      )
      .addOption(
        new Option(
          '--drift-compensation <kind>',
          'with --time: rescale outputs by a calibration read, per layer (global) or per column',
        ).argParser(choiceOption(['none', 'global', 'column'] as const)),
      )
      .option('--workers <n>', 'worker threads for the chips (default: all cores; 1 = no workers)', intOption(1, 256))
      .option(
        '--tech <file>',
        'technology file for the energy per inference of each point (docs/cost.md; default src/cost/tech/default.json)',
      )
      .option('-o, --out <dir>', 'write results.json, chips.csv, summary.csv and the defect maps (maps/) here')
      .option('--maps <n>', 'defect maps (JSON + SVG) of the first n chips to write with --out (default 1)', intOption(0, 10_000))
      .option(
        '--shard <K/N|auto>',
        'run only shard K of N of the (sweep point x chip) items and write its part to --out, for xbar merge; auto, auto/N: the shard of a Slurm array task or Kubernetes Indexed Job (docs/cluster.md)',
        shardOption,
      ),
  ).action(async (o) => {
    const r = await runSimulate(o, kernelsFrom(o), makeProgress(Boolean(o.quiet || o.json)));
    if (o.json) {
      console.log(
        JSON.stringify(
          r.rows.map((row) => ({
            key: row.key,
            value: row.value,
            summary: row.result.summary,
            cost: row.cost,
            seconds: row.result.seconds,
          })),
          null,
          2,
        ),
      );
      return;
    }
    const kw = Math.max(12, r.rows[0].key.length, ...r.rows.map((row) => row.value.length));
    const head = r.rows[0].key ? `${r.rows[0].key.padEnd(kw)} ` : '';
    console.log(`${head}chips  mean acc   std     min      max      95% CI of mean     energy/inference  seconds`);
    for (const row of r.rows) {
      const s = row.result.summary;
      console.log(
        `${row.key ? `${row.value.padEnd(kw)} ` : ''}${String(s.n).padStart(5)}  ${pct(s.mean).padStart(7)}  ${pct(s.std).padStart(6)}  ${pct(s.min).padStart(7)}  ${pct(s.max).padStart(7)}  [${pct(s.ci95[0])}, ${pct(s.ci95[1])}]  ${eng(row.cost.energy, 'J').padStart(16)}  ${row.result.seconds.toFixed(1)}`,
      );
    }
    if (o.out)
      console.log(
        o.shard ? `shard ${o.shard.k}/${o.shard.n}: part written to ${o.out} (xbar merge joins the parts)` : `results written to ${o.out}`,
      );
  });

  // Commands that live in their own modules: register<Name>(p) each.
  registerOnnx(p);
  registerCorrectnet(p);
  registerCorrect(p);
  registerReport(p);
  registerSpice(p);
  registerDoctor(p);
  registerDemo(p);
  registerCost(p);
  registerCluster(p, program);

  p.command('faults')
    .description(
      'draw the defect map of one array from a fault spec: an SVG picture, or a map (.json, .png, .csv) that --faults reads back',
    )
    .requiredOption('--spec <spec>', "fault spec, e.g. 'ring:radius=0.3,width=0.1' or a JSON file (see docs/faults.md)")
    .option('--rows <n>', 'array rows', intOption(1, 1 << 14), 64)
    .option('--cols <n>', 'array physical columns (2 per weight column with the default differential pair)', intOption(1, 1 << 14), 64)
    .option('-s, --seed <n>', 'random seed', intOption(0, 2 ** 31 - 1), 1)
    .requiredOption('-o, --out <file>', 'output file: .svg, .json, .png or .csv (docs/faults.md)')
    .action((o) => {
      const r = drawFaults(o);
      const [, on, off, at] = r.counts;
      console.log(
        `${o.out}: ${on + off + at} of ${r.cells} cells stuck (${pct((on + off + at) / r.cells)}): ${on} stuck-on, ${off} stuck-off, ${at} stuck-at`,
      );
    });

  p.command('presets')
    .description('list the model presets')
    .option('--json', 'print as JSON')
    .action((o) => {
      if (o.json) console.log(JSON.stringify(presets, null, 2));
      else for (const pr of Object.values(presets)) console.log(`${pr.name.padEnd(10)} ${pr.dataset.padEnd(14)} ${pr.description}`);
    });

  p.command('info')
    .description('show the numeric kernels and BLAS in use')
    .action(() => {
      const k = loadKernels();
      console.log(`xbar ${VERSION}, node ${process.version}, kernels ${k.name}, ${k.threads} thread(s)${k.blas ? `, ${k.blas}` : ''}`);
    });
  return p;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander already printed the message
    if (e instanceof XbarError) {
      process.stderr.write(`xbar: error: ${e.message}\n`);
      return 1;
    }
    const sys = e as NodeJS.ErrnoException;
    if (sys?.code && sys.syscall) {
      process.stderr.write(`xbar: error: ${sys.syscall} ${sys.path ?? ''} failed: ${sys.code} (${sys.message.split(':')[0]})\n`);
      return 1;
    }
    // A bug: keep the stack, it is what a bug report needs.
    process.stderr.write(`xbar: internal error: ${(e as Error)?.stack ?? e}\n`);
    return 70;
  }
}

process.exitCode = await main(process.argv.slice(2));
