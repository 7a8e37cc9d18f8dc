import { type Command, Option } from 'commander';
import { makeProgress } from '../core/progress-node.js';
import { eng } from '../cost/format.js';
import { CIRCUIT_LIMITS } from '../crossbar/circuit.js';
import { DEVICE_LIMITS, devicePresetNames } from '../device/config.js';
import { runSimulate } from '../study/simulate-node.js';
import { choiceOption, common, DATA_DIR_HELP, floatOption, intOption, kernelsFrom, mappingOptions, pct, shardOption } from './options.js';

/** `xbar simulate`: the study is src/study/simulate-node.ts (runSimulate); this reads flags and prints. */
export function registerSimulate(p: Command): void {
  common(
    mappingOptions(p.command('simulate'))
      .description('evaluate a saved model on many simulated ReRAM crossbar chips (Monte Carlo)')
      .requiredOption('-m, --model <dir|file.onnx>', 'folder of a saved model, or a .onnx file (imported in memory)')
      .option('--device <preset|file>', `device preset (${devicePresetNames.join(', ')}) or a JSON device file`, 'reram-generic')
      .option('--sigma <x>', 'programming variation: log-normal sigma (overrides the device)', floatOption(0, DEVICE_LIMITS.programSigma))
      .option('--read-noise <x>', 'relative read noise per inference (overrides the device)', floatOption(0, DEVICE_LIMITS.readNoise))
      .option('--levels <n>', 'programmable conductance levels, 0 = continuous (overrides the device)', intOption(0, DEVICE_LIMITS.levels))
      .option(
        '--faults <spec>',
        "stuck-at faults, e.g. 'random:sa0=0.0175,sa1=0.0904' or 'circle:radius=0.3@layers=0' (see docs/faults.md)",
      )
      .option('-c, --chips <n>', 'number of simulated chips', intOption(1, 1_000_000), 100)
      .option('-s, --seed <n>', 'random seed; chip i of seed s is always the same chip', intOption(0, 2 ** 31 - 1), 1)
      .option('--array-size <n>', 'crossbar array rows and columns (a weight uses 2 columns)', intOption(2, CIRCUIT_LIMITS.arraySize))
      .option('--dac-bits <n>', 'input DAC bits (0 = analog inputs)', intOption(0, CIRCUIT_LIMITS.converterBits))
      .option('--adc-bits <n>', 'ADC bits at tile outputs (0 = none)', intOption(0, CIRCUIT_LIMITS.converterBits))
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
        floatOption(0, CIRCUIT_LIMITS.wireResistance),
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
      )
      .option('--allow-nonfinite', 'load a model holding NaN or Inf weights with a warning instead of refusing it'),
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
}
