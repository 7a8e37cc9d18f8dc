import { type Command, InvalidArgumentError, Option } from 'commander';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { onInterrupt } from '../core/interrupt.js';
import type { Kernels } from '../core/kernels.js';
import { checkFaultMaps, programChip } from '../crossbar/chip.js';
import { resolveCircuit } from '../crossbar/circuit.js';
import { planCrossbars } from '../crossbar/plan.js';
import { loadDataset } from '../data/node.js';
import { formatFaultSpec } from '../faults/index.js';
import { loadFaultSpec } from '../faults/node.js';
import { foldBatchNorm } from '../nn/fold.js';
import { type ChipComparison, type CompareResult, compareWithSpice } from '../spice/compare.js';
import { type EngineChoice, selectEngine } from '../spice/engine.js';
import { buildNetlist, checkSpiceSupport, netlistText } from '../spice/netlist.js';
import { inRunFolder } from '../study/run-folder.js';
import { VERSION } from '../version.js';
import { common, DATA_DIR_HELP, kernelsFrom, pct } from './common.js';
import { openModel } from './onnx.js';
import { choiceOption, floatOption, intOption, type MappingFlags, mappingOptions } from './options.js';
import { makeProgress } from './progress.js';
import { circuitFrom, deviceFrom, type SimulateOptions } from './simulate.js';
import { checkCompatible } from './train.js';

export interface SpiceCliOptions extends MappingFlags {
  model: string;
  device: string;
  sigma?: number;
  levels?: number;
  faults?: string;
  seed: number;
  arraySize?: number;
  wireResistance?: number;
  adcBits?: number;
  adcOffset?: number;
  adcGainError?: number;
  scaling?: 'layer' | 'column';
  saturate?: boolean;
  dataset?: string;
  dataDir?: string;
  images: number;
  opampGain: number;
}

const gainOption = (v: string): number => {
  if (v === 'ideal' || v === 'inf') return Number.POSITIVE_INFINITY;
  const n = Number(v);
  if (!(n >= 1) || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a gain >= 1 or 'ideal', got '${v}'.`);
  return n;
};

/** The options a chip needs, shared by export and compare (the same meaning as in `xbar simulate`). */
function chipOptions(c: Command): Command {
  return mappingOptions(common(c))
    .requiredOption('-m, --model <dir>', 'folder of a saved dense (MLP) model')
    .option('--device <preset|file>', 'device preset or JSON device file (must have no read noise)', 'reram-generic')
    .option('--sigma <x>', 'programming variation: log-normal sigma (overrides the device)', floatOption(0, 10))
    .option('--levels <n>', 'programmable conductance levels, 0 = continuous (overrides the device)', intOption(0, 1 << 20))
    .option('--faults <spec>', "stuck-at faults, e.g. 'random:sa0=0.0175,sa1=0.0904' (see docs/faults.md)")
    .option('-s, --seed <n>', 'random seed; chip i of seed s is the same chip as in xbar simulate', intOption(0, 2 ** 31 - 1), 1)
    .option('--array-size <n>', 'crossbar array rows and columns (a weight uses 2 columns)', intOption(2, 1 << 16))
    .option('--wire-resistance <ohm>', 'wire resistance per cell-to-cell segment', floatOption(0, 1e6))
    .option('--adc-bits <n>', 'ADC bits at each row tile output (0 = fully analog)', intOption(0, 24))
    .option('--adc-offset <lsb>', 'static offset of each ADC, std in LSB, drawn once per chip (needs --adc-bits)', floatOption(0, 1e6))
    .option(
      '--adc-gain-error <x>',
      'static gain error of each ADC, relative std, drawn once per chip (needs --adc-bits)',
      floatOption(0, 10),
    )
    .addOption(new Option('--scaling <kind>', 'weight-to-conductance scaling').argParser(choiceOption(['layer', 'column'] as const)))
    .option('--no-saturate', 'neurons do not saturate at the rail')
    .option('--opamp-gain <x>', "TIA op-amp open-loop gain, or 'ideal' (nullor)", gainOption, 1e6)
    .option('-d, --dataset <name>', 'dataset (default: the one the model was trained on)')
    .option('--data-dir <dir>', DATA_DIR_HELP);
}

/** Model, dataset (first `images` test images), device, circuit, faults and plan: the same as `xbar simulate` builds. */
function prepare(o: SpiceCliOptions, kernels: Kernels) {
  // The crossbar maps the network with its batch norms folded into the layers before them.
  const opened = openModel(o.model, o);
  const { file } = opened;
  const model = foldBatchNorm(opened.model);
  const datasetName = o.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!datasetName) throw new XbarError(`${o.model} does not record its dataset: pass --dataset`);
  const so: SimulateOptions = { ...o, chips: 1 };
  const device = deviceFrom(so);
  const circuit = resolveCircuit(circuitFrom(so));
  const faults = o.faults ? loadFaultSpec(o.faults) : [];
  const ds = loadDataset(datasetName, { dataDir: o.dataDir, limitTest: o.images });
  checkCompatible(model.spec, ds, `model ${o.model}`);
  const nCalib = Math.min(ds.train.n, circuit.calibrationImages);
  const plan = planCrossbars(model, circuit, ds.train.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);
  checkFaultMaps(plan, faults);
  checkSpiceSupport(model, plan, device);
  for (const f of faults)
    if (f.layers !== 'all')
      for (const l of f.layers)
        if (l >= plan.layers.length)
          throw new XbarError(`--faults names layer ${l}, but the model has weighted layers 0..${plan.layers.length - 1}`);
  return { model, plan, device, faults, test: ds.test, dataset: ds.name };
}

const sci = (v: number) => (v === 0 ? '0' : v.toExponential(2));
const ms = (s: number) =>
  s < 1e-4 ? `${(s * 1e6).toFixed(1)} us` : s < 1 ? `${(s * 1000).toFixed(s < 0.01 ? 3 : 1)} ms` : `${s.toFixed(2)} s`;

function printCompare(r: CompareResult, head: string): void {
  console.log(head);
  console.log('chip   max|dV| V  mean|dV| V  max rel    agree    acc model  acc SPICE  failed  model/img   SPICE/img');
  const row = (name: string, c: Omit<ChipComparison, 'chip' | 'failures'> & { failed: number }, perImg: [number, number]) =>
    console.log(
      `${name.padEnd(6)} ${sci(c.maxAbsError).padStart(9)}  ${sci(c.meanAbsError).padStart(9)}  ${sci(c.maxRelError).padStart(9)}  ` +
        `${pct(c.agreement).padStart(7)}  ${pct(c.behaviouralAccuracy).padStart(9)}  ${pct(c.spiceAccuracy).padStart(9)}  ` +
        `${String(c.failed).padStart(6)}  ${ms(perImg[0]).padStart(9)}  ${ms(perImg[1]).padStart(9)}`,
    );
  for (const c of r.chips)
    row(String(c.chip), { ...c, failed: c.failures.length }, [c.behaviouralSeconds / c.images, c.spiceSeconds / c.images]);
  const s = r.summary;
  row('all', { ...s, behaviouralSeconds: 0, spiceSeconds: 0, spiceRuns: 0, failed: s.failures }, [
    s.behaviouralSecondsPerImage,
    s.spiceSecondsPerImage,
  ]);
  for (const c of r.chips) for (const f of c.failures) console.log(`chip ${c.chip}, image ${f.image}: SPICE failed (${f.message})`);
  console.log(
    `time per image: behavioural ${ms(s.behaviouralSecondsPerImage)}, SPICE ${ms(s.spiceSecondsPerImage)} (${r.engine}): ` +
      `the behavioural model is ${s.speedup.toFixed(0)}x faster`,
  );
}

export function registerSpice(p: Command): void {
  const spice = p.command('spice').description('cross-check the behavioural crossbar model against a SPICE simulator (ngspice)');

  chipOptions(spice.command('export').description('write the SPICE netlist of one simulated chip, swept over test images'))
    .option('--chip <n>', 'which chip of the seed (as in xbar simulate)', intOption(0, 1_000_000), 0)
    .option('--images <n>', 'test images in the sweep', intOption(1, 100_000), 1)
    .requiredOption('-o, --out <file>', 'netlist file to write (.cir)')
    .action((o) => {
      const { model, plan, device, faults, test, dataset } = prepare(o, kernelsFrom(o));
      const chip = programChip(plan, device, faults, o.seed, o.chip);
      const labels = Array.from(test.y.subarray(0, 40)).join(' ');
      const net = buildNetlist(model, plan, chip.layers, device, test.x, test.n, {
        opampGain: o.opampGain,
        title: `xbar ${o.model}, chip ${o.chip} of seed ${o.seed}, ${test.n} ${dataset} test image(s)`,
        comments: [
          `faults: ${faults.length ? formatFaultSpec(faults) : 'none'}; labels of the images: ${labels}${test.n > 40 ? ' ...' : ''}`,
          `Run: ngspice -b -r out.raw ${o.out}   (v(out<j>) at sweep point k = output j for image k)`,
        ],
      });
      writeFileAtomic(o.out, netlistText(net));
      const k = net.counts;
      const summary = { out: o.out, images: test.n, ...k, outputs: net.outputs.length };
      if (o.json) console.log(JSON.stringify(summary, null, 2));
      else
        console.log(
          `${o.out}: ${plan.layers.length} layers on ${k.arrays} arrays, ${k.cells} cell resistors, ${k.wires} wire segments, ` +
            `${k.opamps} TIAs, ${net.outputs.length} outputs, ${test.n} image(s); run it with: ngspice -b -r out.raw ${o.out}`,
        );
    });

  chipOptions(spice.command('compare').description('run the same chips through the behavioural model and through SPICE and compare them'))
    .option('-c, --chips <n>', 'simulated chips', intOption(1, 100_000), 3)
    .option('--images <n>', 'test images per chip', intOption(1, 100_000), 100)
    .addOption(
      new Option('--engine <kind>', 'SPICE engine: native ngspice, wasm (npm eecircuit-engine), or auto')
        .argParser(choiceOption(['native', 'wasm', 'auto'] as const))
        .default('auto'),
    )
    .option('--model-ideal-wires', 'the behavioural model ignores the wire resistance (shows what IR drop costs against SPICE)')
    .option('-o, --out <dir>', 'write compare.json and every chip netlist (netlists/chip-<k>.cir) here')
    .action(async (o) => {
      const kernels = kernelsFrom(o);
      const { model, plan, device, faults, test, dataset } = prepare(o, kernels);
      const engine = await selectEngine(o.engine as EngineChoice);
      // compare.json and the netlists are a run folder: whole or absent (src/study/run-folder.ts).
      const runOptions = { out: o.out, command: 'spice compare', key: o, inputs: [o.model, o.dataDir] };
      // Signals handled for the whole comparison: its own work between SPICE runs is short, so the
      // handlers defer nothing noticeably, and an interruption always stops ngspice and tidies up.
      const handled = onInterrupt(() => {});
      try {
        await inRunFolder(runOptions, async (run) => {
          const progress = makeProgress(Boolean(o.quiet || o.json));
          progress.start(o.chips, 'chips');
          let result: CompareResult;
          try {
            result = await compareWithSpice(
              model,
              plan,
              device,
              faults,
              test,
              {
                chips: o.chips,
                seed: o.seed,
                opampGain: o.opampGain,
                modelPlan: o.modelIdealWires ? { ...plan, circuit: { ...plan.circuit, wireResistance: 0 } } : undefined,
              },
              engine,
              kernels,
              {
                onChip: (r, done) => progress.update(done, `chip ${r.chip}: max rel ${sci(r.maxRelError)}`),
                onNetlist: (c, net) => {
                  run?.write(`netlists/chip-${c}.cir`, netlistText(net));
                },
              },
            );
          } finally {
            progress.stop();
          }
          const config = {
            model: o.model,
            dataset,
            images: test.n,
            seed: o.seed,
            device,
            circuit: plan.circuit,
            faults: faults.length ? formatFaultSpec(faults) : '',
            opampGain: Number.isFinite(o.opampGain) ? o.opampGain : 'ideal',
            behaviouralWires: o.modelIdealWires ? 'ideal' : 'same as SPICE',
          };
          const json = {
            format: 'xbar-spice-compare',
            version: 1,
            xbarVersion: VERSION,
            createdAt: new Date().toISOString(),
            ...config,
            ...result,
          };
          run?.write('compare.json', `${JSON.stringify(json, null, 2)}\n`);
          if (o.json) console.log(JSON.stringify(json, null, 2));
          else
            printCompare(
              result,
              `${o.model} on ${dataset}: ${o.chips} chip(s) x ${test.n} images, ${device.name}${faults.length ? `, faults ${formatFaultSpec(faults)}` : ''}, ` +
                `wire ${plan.circuit.wireResistance} ohm${o.modelIdealWires ? ' (behavioural: ideal wires)' : ''}, op-amp gain ${config.opampGain}; netlist ${result.netlist.cells} cells, ` +
                `${result.netlist.wires} wire segments, ${result.netlist.opamps} TIAs`,
            );
        });
      } finally {
        handled();
      }
    });
}
