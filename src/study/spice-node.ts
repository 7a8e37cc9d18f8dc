import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { onInterrupt } from '../core/interrupt.js';
import type { Kernels } from '../core/kernels.js';
import { checkFits } from '../core/memory.js';
import { availableMemory } from '../core/memory-node.js';
import type { Progress } from '../core/progress.js';
import { checkFaultMaps, programChip } from '../crossbar/chip.js';
import { resolveCircuit } from '../crossbar/circuit.js';
import { planCrossbars } from '../crossbar/plan.js';
import { loadDataset } from '../data/node.js';
import { formatFaultSpec } from '../faults/index.js';
import { loadFaultSpec } from '../faults/node.js';
import { foldBatchNorm } from '../nn/fold.js';
import { chipMemory } from '../nn/memory.js';
import { openModel } from '../onnx/open-node.js';
import { type CompareResult, compareWithSpice } from '../spice/compare.js';
import { type EngineChoice, selectEngine } from '../spice/engine.js';
import { buildNetlist, checkSpiceSupport, netlistText } from '../spice/netlist.js';
import { VERSION } from '../version.js';
import { checkCompatible, circuitFrom, type HardwareOptions } from './inputs.js';
import { deviceFrom } from './inputs-node.js';
import { inRunFolder } from './run-folder.js';

/**
 * The SPICE cross-check (`xbar spice export | compare`): the chips of `xbar simulate`, as netlists
 * and through ngspice beside the behavioural model. Node only: SPICE is a program on this machine
 * (or its WebAssembly build), and netlists are files.
 */
export interface SpiceOptions extends HardwareOptions {
  model: string;
  faults?: string;
  seed: number;
  dataset?: string;
  dataDir?: string;
  /** Test images per chip. */
  images: number;
  /** The TIA op-amp's open-loop gain (Infinity: ideal). */
  opampGain: number;
}

export interface SpiceExportOptions extends SpiceOptions {
  chip: number;
  out: string;
}

export interface SpiceCompareOptions extends SpiceOptions {
  chips: number;
  engine: EngineChoice;
  /** The behavioural model ignores the wire resistance (what IR drop costs against SPICE). */
  modelIdealWires?: boolean;
  /** Folder for compare.json and every chip's netlist. */
  out?: string;
}

/** Model, dataset (first `images` test images), device, circuit, faults and plan: the same as `xbar simulate` builds. */
function prepare(o: SpiceOptions, kernels: Kernels) {
  // The crossbar maps the network with its batch norms folded into the layers before them.
  const opened = openModel(o.model, o);
  const { file } = opened;
  const model = foldBatchNorm(opened.model);
  const datasetName = o.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!datasetName) throw new XbarError(`${o.model} does not record its dataset: pass --dataset`);
  const device = deviceFrom(o);
  const circuit = resolveCircuit(circuitFrom(o));
  const faults = o.faults !== undefined ? loadFaultSpec(o.faults) : [];
  const ds = loadDataset(datasetName, { dataDir: o.dataDir, limitTest: o.images });
  checkCompatible(model.spec, ds, `model ${o.model}`);
  const need = chipMemory(model.spec, { workers: 1, images: ds.test.n });
  if (need) checkFits(need, availableMemory(), `simulating ${o.model}'s chips`, 'use fewer --images or a smaller model');
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

/** Writes the netlist of one chip, swept over the first test images. */
export function runSpiceExport(o: SpiceExportOptions, kernels: Kernels) {
  const { model, plan, device, faults, test, dataset } = prepare(o, kernels);
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
  return { summary: { out: o.out, images: test.n, ...net.counts, outputs: net.outputs.length }, layers: plan.layers.length };
}

/**
 * The same chips through the behavioural model and through SPICE; with `out`, compare.json and
 * the netlists are a run folder (whole or absent, src/study/run-folder.ts).
 */
export async function runSpiceCompare(o: SpiceCompareOptions, kernels: Kernels, progress: Progress) {
  const { model, plan, device, faults, test, dataset } = prepare(o, kernels);
  const engine = await selectEngine(o.engine);
  const runOptions = { out: o.out, command: 'spice compare', key: o, inputs: [o.model, o.dataDir] };
  // Signals handled for the whole comparison: its own work between SPICE runs is short, so the
  // handlers defer nothing noticeably, and an interruption always stops ngspice and tidies up.
  const handled = onInterrupt(() => {});
  try {
    return await inRunFolder(runOptions, async (run) => {
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
            onChip: (r, done) =>
              progress.update(done, `chip ${r.chip}: max rel ${r.maxRelError === 0 ? '0' : r.maxRelError.toExponential(2)}`),
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
      return { json, result, config, dataset, device, faults, plan, images: test.n };
    });
  } finally {
    handled();
  }
}
