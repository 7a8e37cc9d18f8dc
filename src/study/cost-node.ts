import { existsSync } from 'node:fs';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import type { Kernels } from '../core/kernels.js';
import type { NetworkCost } from '../cost/model.js';
import { type ConductanceSource, costOfModel, measureActivity } from '../cost/network.js';
import { type Tech, techConstants } from '../cost/tech.js';
import { programChip } from '../crossbar/chip.js';
import { type Circuit, resolveCircuit } from '../crossbar/circuit.js';
import { type CrossbarPlan, planCrossbars } from '../crossbar/plan.js';
import { loadDataset } from '../data/node.js';
import type { Device } from '../device/config.js';
import { loadFaultSpec } from '../faults/node.js';
import { buildModel, type Model } from '../nn/model.js';
import { presets } from '../nn/presets.js';
import { openModel } from '../onnx/open-node.js';
import { VERSION } from '../version.js';
import { checkCompatible, circuitFrom, type HardwareOptions } from './inputs.js';
import { deviceFrom, loadTech } from './inputs-node.js';

/**
 * `xbar cost`: the energy, latency and area of one inference of a network as mapped (src/cost,
 * docs/cost.md), from a model folder, an .onnx file or an untrained preset, and its result file.
 */
export const COST_FORMAT = 'xbar-cost';

export interface CostOptions extends HardwareOptions {
  model: string;
  faults?: string;
  chip?: number;
  seed: number;
  tech?: string;
  calibrationImages?: number;
  activity: 'measured' | 'full';
  dataset?: string;
  dataDir?: string;
  out?: string;
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
  const device = deviceFrom(o);
  const circuit = resolveCircuit({ ...circuitFrom(o), ...(o.calibrationImages ? { calibrationImages: o.calibrationImages } : {}) });
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
