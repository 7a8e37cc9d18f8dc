import { type Command, Option } from 'commander';
import { costText } from '../cost/format.js';
import { CIRCUIT_LIMITS } from '../crossbar/circuit.js';
import { DEVICE_LIMITS, devicePresetNames } from '../device/config.js';
import { presets } from '../nn/presets.js';
import { runCost } from '../study/cost-node.js';
import { choiceOption, common, floatOption, intOption, kernelsFrom, mappingOptions } from './options.js';

/** Options of the commands that cost a network (shared with the sweeps that report energy). */
export function costCircuitOptions(c: Command): Command {
  return mappingOptions(c)
    .option('--device <preset|file>', `device preset (${devicePresetNames.join(', ')}) or a JSON device file`, 'reram-generic')
    .option(
      '--sigma <x>',
      'programming variation of the chip costed with --chip (overrides the device)',
      floatOption(0, DEVICE_LIMITS.programSigma),
    )
    .option('--levels <n>', 'programmable conductance levels, 0 = continuous', intOption(0, DEVICE_LIMITS.levels))
    .option('--faults <spec>', "stuck-at faults on the chip costed with --chip, e.g. 'random:sa0=0.0175,sa1=0.0904'")
    .option('--chip <i>', 'cost chip i of --seed as programmed (variation, faults); default: the nominal mapped conductances', intOption(0))
    .option('-s, --seed <n>', "random seed (the chip, and an untrained preset's weights)", intOption(0, 2 ** 31 - 1), 1)
    .option('--array-size <n>', 'crossbar array rows and columns (a weight uses 2 columns)', intOption(2, CIRCUIT_LIMITS.arraySize))
    .option(
      '--dac-bits <n>',
      'input DAC bits (0 = analog inputs: DACs only where the input is digital)',
      intOption(0, CIRCUIT_LIMITS.converterBits),
    )
    .option(
      '--adc-bits <n>',
      'ADC bits at tile outputs (0 = analog between layers: an ADC only at the output)',
      intOption(0, CIRCUIT_LIMITS.converterBits),
    )
    .addOption(new Option('--scaling <kind>', 'weight-to-conductance scaling').argParser(choiceOption(['layer', 'column'] as const)))
    .option('--no-saturate', 'neurons do not saturate at the rail')
    .option('--ideal', 'ideal periphery: no DAC/ADC in the circuit, no saturation, ideal wires')
    .option('--tech <file>', 'technology file (JSON; constants it leaves out come from src/cost/tech/default.json)')
    .addOption(
      new Option('--activity <kind>', 'word-line drive: measured on calibration images, or every row at full scale (worst case)')
        .argParser(choiceOption(['measured', 'full'] as const))
        .default('measured'),
    )
    .option(
      '--calibration-images <n>',
      'training images that calibrate the voltage ranges and measure the activity (default 1000)',
      intOption(1),
    )
    .option('-d, --dataset <name>', "dataset for calibration (default: the model's)")
    .option('--data-dir <dir>', 'read the four IDX files (raw or .gz) from this folder instead');
}

export function registerCost(p: Command): void {
  common(
    costCircuitOptions(
      p
        .command('cost')
        .description('energy, latency and area of one inference of a network mapped onto crossbars (first-order model, docs/cost.md)')
        .requiredOption(
          '-m, --model <dir|preset>',
          `folder of a saved model, or a preset (${Object.keys(presets).join(', ')}) with untrained weights`,
        ),
    ).option('-o, --out <file>', 'write the result (JSON, for xbar report) to this file'),
  ).action((o) => {
    const r = runCost(o, kernelsFrom(o));
    if (o.json) {
      console.log(JSON.stringify(r.json, null, 2));
      return;
    }
    const s = r.setup;
    console.log(
      `${o.model}${s.trained ? '' : ' (untrained preset: initial weights)'} on ${s.plan.layers.length} weighted layers, ` +
        `${s.circuit.arrayRows}x${s.circuit.arrayCols} arrays, device ${s.device.name}, ${r.json.conductances} conductances, ` +
        `activity ${r.json.activity}, technology ${r.tech.name}`,
    );
    console.log(costText(r.cost));
    if (o.out) console.log(`result written to ${o.out}`);
  });
}
