import { type Command, InvalidArgumentError, Option } from 'commander';
import { makeProgress } from '../core/progress-node.js';
import { CIRCUIT_LIMITS } from '../crossbar/circuit.js';
import { DEVICE_LIMITS } from '../device/config.js';
import { formatFaultSpec } from '../faults/index.js';
import type { ChipComparison, CompareResult } from '../spice/compare.js';
import { runSpiceCompare, runSpiceExport } from '../study/spice-node.js';
import { choiceOption, common, DATA_DIR_HELP, floatOption, intOption, kernelsFrom, mappingOptions, pct } from './options.js';

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
    .option('--sigma <x>', 'programming variation: log-normal sigma (overrides the device)', floatOption(0, DEVICE_LIMITS.programSigma))
    .option('--levels <n>', 'programmable conductance levels, 0 = continuous (overrides the device)', intOption(0, DEVICE_LIMITS.levels))
    .option('--faults <spec>', "stuck-at faults, e.g. 'random:sa0=0.0175,sa1=0.0904' (see docs/faults.md)")
    .option('-s, --seed <n>', 'random seed; chip i of seed s is the same chip as in xbar simulate', intOption(0, 2 ** 31 - 1), 1)
    .option('--array-size <n>', 'crossbar array rows and columns (a weight uses 2 columns)', intOption(2, CIRCUIT_LIMITS.arraySize))
    .option('--wire-resistance <ohm>', 'wire resistance per cell-to-cell segment', floatOption(0, CIRCUIT_LIMITS.wireResistance))
    .option('--adc-bits <n>', 'ADC bits at each row tile output (0 = fully analog)', intOption(0, CIRCUIT_LIMITS.converterBits))
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
      const { summary, layers } = runSpiceExport(o, kernelsFrom(o));
      const k = summary;
      if (o.json) console.log(JSON.stringify(summary, null, 2));
      else
        console.log(
          `${o.out}: ${layers} layers on ${k.arrays} arrays, ${k.cells} cell resistors, ${k.wires} wire segments, ` +
            `${k.opamps} TIAs, ${k.outputs} outputs, ${k.images} image(s); run it with: ngspice -b -r out.raw ${o.out}`,
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
      const r = await runSpiceCompare(o, kernelsFrom(o), makeProgress(Boolean(o.quiet || o.json)));
      if (o.json) console.log(JSON.stringify(r.json, null, 2));
      else
        printCompare(
          r.result,
          `${o.model} on ${r.dataset}: ${o.chips} chip(s) x ${r.images} images, ${r.device.name}${r.faults.length ? `, faults ${formatFaultSpec(r.faults)}` : ''}, ` +
            `wire ${r.plan.circuit.wireResistance} ohm${o.modelIdealWires ? ' (behavioural: ideal wires)' : ''}, op-amp gain ${r.config.opampGain}; netlist ${r.result.netlist.cells} cells, ` +
            `${r.result.netlist.wires} wire segments, ${r.result.netlist.opamps} TIAs`,
        );
    });
}
