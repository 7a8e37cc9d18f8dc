import { existsSync, readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import type { Kernels } from '../core/kernels.js';
import { costText } from '../cost/format.js';
import type { NetworkCost } from '../cost/model.js';
import { type ConductanceSource, costOfModel, measureActivity } from '../cost/network.js';
import { resolveTech, type Tech } from '../cost/tech.js';
import { programChip } from '../crossbar/chip.js';
import { type Circuit, resolveCircuit } from '../crossbar/circuit.js';
import { type CrossbarPlan, planCrossbars } from '../crossbar/plan.js';
import { loadDataset } from '../data/node.js';
import { type Device, devicePresetNames } from '../device/config.js';
import { loadFaultSpec } from '../faults/node.js';
import { buildModel, type Model } from '../nn/model.js';
import { presets } from '../nn/presets.js';
import { VERSION } from '../version.js';
import { common, kernelsFrom } from './common.js';
import { openModel } from './onnx.js';
import { choiceOption, floatOption, intOption, type MappingFlags, mappingOptions } from './options.js';
import { circuitFrom, deviceFrom, type SimulateOptions } from './simulate.js';
import { checkCompatible } from './train.js';

export const COST_FORMAT = 'xbar-cost';

export interface CostOptions extends MappingFlags {
  model: string;
  device: string;
  sigma?: number;
  levels?: number;
  faults?: string;
  chip?: number;
  seed: number;
  arraySize?: number;
  dacBits?: number;
  adcBits?: number;
  scaling?: 'layer' | 'column';
  saturate?: boolean;
  ideal?: boolean;
  tech?: string;
  calibrationImages?: number;
  activity: 'measured' | 'full';
  dataset?: string;
  dataDir?: string;
  out?: string;
}

/** A technology file from disk (partial files complete from the defaults); one clear line on any problem. */
export function loadTech(file: string | undefined): Tech {
  if (!file) return resolveTech({});
  if (!existsSync(file)) throw new XbarError(`technology file ${file} not found (see src/cost/tech/default.json for the format)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new XbarError(`technology file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return resolveTech(json, `technology file ${file}`);
}

/**
 * A saved model folder or an imported .onnx file, or an untrained preset (its initial weights:
 * the costs of a mapping, not of a trained network).
 */
export function modelFrom(
  spec: string,
  seed: number,
  data: { dataset?: string; dataDir?: string } = {},
): { model: Model; dataset: string | undefined; trained: boolean } {
  const preset = presets[spec];
  if (preset && !existsSync(spec)) return { model: buildModel(preset.spec, seed), dataset: preset.dataset, trained: false };
  const { model, file } = openModel(spec, data); // its own message names a missing folder or file
  return { model, dataset: typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined, trained: true };
}

export interface CostSetup {
  model: Model;
  plan: CrossbarPlan;
  device: Device;
  circuit: Circuit;
  conductances: ConductanceSource;
  activity?: Float64Array[];
  dataset: string;
  trained: boolean;
}

/** Model, plan (calibrated on training images), device, conductances and activity: what a cost needs. */
export function costSetup(o: CostOptions, kernels: Kernels): CostSetup {
  const { model, dataset: saved, trained } = modelFrom(o.model, o.seed, o);
  const dataset = o.dataset ?? saved;
  if (!dataset) throw new XbarError(`${o.model} does not record its dataset: pass --dataset`);
  const so: SimulateOptions = { ...o, chips: 1 };
  const device = deviceFrom(so);
  const circuit = resolveCircuit({ ...circuitFrom(so), ...(o.calibrationImages ? { calibrationImages: o.calibrationImages } : {}) });
  const ds = loadDataset(dataset, { dataDir: o.dataDir, limitTrain: circuit.calibrationImages, limitTest: 1 });
  checkCompatible(model.spec, ds, `model ${o.model}`);
  const n = Math.min(ds.train.n, circuit.calibrationImages);
  const calib = ds.train.x.subarray(0, n * model.inputSize);
  const plan = planCrossbars(model, circuit, calib, n, kernels);
  const faults = o.faults ? loadFaultSpec(o.faults) : [];
  if (faults.length && o.chip === undefined)
    throw new XbarError('--faults changes a programmed chip: pass --chip i to cost chip i of --seed');
  const conductances: ConductanceSource =
    o.chip === undefined ? { kind: 'nominal' } : { kind: 'chip', chip: programChip(plan, device, faults, o.seed, o.chip), seed: o.seed };
  const activity = o.activity === 'measured' ? measureActivity(model, plan, calib, n, kernels) : undefined;
  return { model, plan, device, circuit, conductances, activity, dataset, trained };
}

export interface CostRun {
  setup: CostSetup;
  tech: Tech;
  cost: NetworkCost;
  /** What the result file holds. */
  json: Record<string, unknown>;
}

export function runCost(o: CostOptions, kernels: Kernels): CostRun {
  const tech = loadTech(o.tech);
  const setup = costSetup(o, kernels);
  const cost = costOfModel({ ...setup }, tech);
  const json = {
    format: COST_FORMAT,
    version: 1,
    xbarVersion: VERSION,
    createdAt: new Date().toISOString(),
    command: { ...o },
    model: o.model,
    trained: setup.trained,
    dataset: setup.dataset,
    device: setup.device,
    circuit: setup.circuit,
    conductances:
      setup.conductances.kind === 'chip' ? `chip ${setup.conductances.chip.index} of seed ${o.seed}` : 'nominal (mapped targets)',
    activity: o.activity === 'measured' ? `measured on ${setup.circuit.calibrationImages} training images` : 'full scale (worst case)',
    tech: { name: tech.name, constants: techConstants(tech) },
    cost,
  };
  if (o.out) writeFileAtomic(o.out, `${JSON.stringify(json, null, 2)}\n`);
  return { setup, tech, cost, json };
}

/** Every constant with its unit and source, for the result file. */
export function techConstants(tech: Tech): Record<string, { value: number; unit: string; source: string }> {
  const out: Record<string, { value: number; unit: string; source: string }> = {};
  for (const key of Object.keys(tech.sources)) {
    const [g, k] = key.split('.');
    out[key] = {
      value: (tech as unknown as Record<string, Record<string, number>>)[g][k],
      unit: tech.units[key],
      source: tech.sources[key],
    };
  }
  return out;
}

/** Options of the commands that cost a network (shared with the sweeps that report energy). */
export function costCircuitOptions(c: Command): Command {
  return mappingOptions(c)
    .option('--device <preset|file>', `device preset (${devicePresetNames.join(', ')}) or a JSON device file`, 'reram-generic')
    .option('--sigma <x>', 'programming variation of the chip costed with --chip (overrides the device)', floatOption(0, 10))
    .option('--levels <n>', 'programmable conductance levels, 0 = continuous', intOption(0, 1 << 20))
    .option('--faults <spec>', "stuck-at faults on the chip costed with --chip, e.g. 'random:sa0=0.0175,sa1=0.0904'")
    .option('--chip <i>', 'cost chip i of --seed as programmed (variation, faults); default: the nominal mapped conductances', intOption(0))
    .option('-s, --seed <n>', "random seed (the chip, and an untrained preset's weights)", intOption(0, 2 ** 31 - 1), 1)
    .option('--array-size <n>', 'crossbar array rows and columns (a weight uses 2 columns)', intOption(2, 1 << 16))
    .option('--dac-bits <n>', 'input DAC bits (0 = analog inputs: DACs only where the input is digital)', intOption(0, 24))
    .option('--adc-bits <n>', 'ADC bits at tile outputs (0 = analog between layers: an ADC only at the output)', intOption(0, 24))
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
