import { availableParallelism } from 'node:os';
import { checksum, makePart, PART_FILE, studyConfig } from '../cluster/part.js';
import type { Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { checkFits } from '../core/memory.js';
import { availableMemory } from '../core/memory-node.js';
import type { Progress } from '../core/progress.js';
import type { Compensation } from '../crossbar/age.js';
import { resolveCircuit } from '../crossbar/circuit.js';
import { writeChipMaps } from '../crossbar/maps-node.js';
import { runMonteCarlo } from '../crossbar/montecarlo.js';
import { runMonteCarloParallel } from '../crossbar/parallel-node.js';
import type { CrossbarPlan } from '../crossbar/plan.js';
import type { Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/node.js';
import { type FaultSpec, formatFaultSpec, parseFaultSpec, patternSchema } from '../faults/index.js';
import { loadFaultSpec } from '../faults/node.js';
import { foldBatchNorm } from '../nn/fold.js';
import { chipMemory } from '../nn/memory.js';
import type { Model } from '../nn/model.js';
import { openModel } from '../onnx/open-node.js';
import { checkCompatible, circuitFrom, type HardwareOptions } from './inputs.js';
import { deviceFrom, loadTech } from './inputs-node.js';
import { inRunFolder } from './run-folder.js';
import { type ChipsRunner, parseSweep, parseTimes, type SimulateRun, type SweepPoint, simulateFiles, simulateStudy } from './simulate.js';
import type { SimulatePartData } from './simulate-part.js';

/**
 * `xbar simulate` in Node: the model, data, device and fault files named by the options, the
 * chips on worker threads, and the run folder (results.json, chips.csv, summary.csv, maps/)
 * written whole or not at all. The study itself is simulate.ts.
 */
export interface SimulateOptions extends HardwareOptions {
  model: string;
  faults?: string;
  chips: number;
  seed: number;
  dataset?: string;
  dataDir?: string;
  limitTest?: number;
  sweep?: string;
  out?: string;
  /** Defect maps (JSON + SVG) of the first n chips go to OUT/maps; default 1 when there are faults. */
  maps?: number;
  /** Worker threads for the chips (default: all cores; 1 runs in this thread). */
  workers?: number;
  /** Read the chips at these times after programming, e.g. '1s,1h,1d,1y' (parseTimes); several times are a sweep. */
  time?: string;
  /** Drift compensation at read time (with --time): none, global (per layer) or column. */
  driftCompensation?: Compensation;
  /** Technology file for the energy, latency and area of each point (default src/cost/tech/default.json). */
  tech?: string;
  /** Run only this shard of the (sweep point x chip) items and write its part to --out (src/cluster/). */
  shard?: Shard;
  /** Load a model holding NaN or Inf weights, with a warning, instead of refusing it. */
  allowNonfinite?: boolean;
}

/** The options of one sweep point. */
export function applySweep(o: SimulateOptions, key: string, value: string): SimulateOptions {
  const num = (): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new XbarError(`--sweep ${key}: '${value}' is not a number`);
    return n;
  };
  switch (key) {
    case 'sigma':
      return { ...o, sigma: num() };
    case 'read-noise':
      return { ...o, readNoise: num() };
    case 'levels':
      return { ...o, levels: num() };
    case 'adc-bits':
      return { ...o, adcBits: num() };
    case 'dac-bits':
      return { ...o, dacBits: num() };
    case 'adc-offset':
      return { ...o, adcOffset: num() };
    case 'adc-gain-error':
      return { ...o, adcGainError: num() };
    case 'adc-noise':
      return { ...o, adcNoise: num() };
    case 'dac-inl':
      return { ...o, dacInl: num() };
    case 'array-size':
      return { ...o, arraySize: num() };
    case 'wire-resistance':
      return { ...o, wireResistance: num() };
    case 'faults':
      return { ...o, faults: value === 'none' ? undefined : value };
    case 'layers':
      if (!o.faults) throw new XbarError('--sweep layers=... needs --faults to say which faults go on the layers');
      return { ...o, faults: withLayers(o.faults, value) };
    case 'fault-rate': {
      const r = num();
      if (r < 0 || r > 1) throw new XbarError(`--sweep fault-rate: ${value} is not a rate in [0, 1]`);
      if (r === 0) return o;
      // As spec objects, not text: the random term must not fall under the user's spec-wide scope.
      const random: FaultSpec = [{ patterns: [patternSchema.parse({ pattern: 'random', sa0: r / 2, sa1: r / 2 })], layers: 'all' }];
      return { ...o, faults: formatFaultSpec([...random, ...(o.faults ? loadFaultSpec(o.faults) : [])]) };
    }
    case 'density':
      if (!o.faults) throw new XbarError('--sweep density=... needs --faults with the patterns to scale');
      return { ...o, faults: withDensity(o.faults, num()) };
    case 'time':
      return { ...o, time: value };
    case 'mapping':
      if (value !== 'differential' && value !== 'reference')
        throw new XbarError(`--sweep mapping: '${value}' is not one of differential, reference`);
      return { ...o, mapping: value };
    case 'cells-per-weight':
      return { ...o, cellsPerWeight: num() };
    case 'drift-compensation':
      if (!['none', 'global', 'column'].includes(value))
        throw new XbarError(`--sweep drift-compensation: '${value}' is not one of none, global, column`);
      return { ...o, driftCompensation: value as Compensation };
  }
  throw new XbarError(`--sweep key '${key}' is unknown`);
}

/** Every group of the spec on the given layers (parsed as a spec-wide scope, so the list gets the parser's checks). */
function withLayers(faults: string, layers: string): string {
  const scope = parseFaultSpec(`random@layers=${layers}`)[0].layers;
  return formatFaultSpec(loadFaultSpec(faults).map((g) => ({ ...g, layers: scope })));
}

/** Sets the density of every region pattern; random patterns keep their rates. */
function withDensity(faults: string, density: number): string {
  const spec: FaultSpec = loadFaultSpec(faults).map((s) => ({
    ...s,
    patterns: s.patterns.map((p) => (p.pattern === 'random' ? p : { ...p, density })),
  }));
  return formatFaultSpec(spec);
}

/**
 * Every sweep point's device, circuit and faults, validated before the long work starts: a bad
 * value in the last point of a sweep is refused before the first chip. A time sweep becomes --time.
 */
export function sweepPoints(o: SimulateOptions) {
  let sweep = o.sweep !== undefined ? parseSweep(o.sweep) : { key: '', values: [''] };
  // A time sweep reads the same programmed chips at every time (aging them), not one run per time.
  if (sweep.key === 'time') {
    if (o.time) throw new XbarError('--sweep time=... and --time both give read times: use one of them');
    o = { ...o, time: sweep.values.join(',') };
    sweep = { key: '', values: [''] };
  }
  const times = o.time ? parseTimes(o.time) : null;
  if (o.driftCompensation && o.driftCompensation !== 'none' && !times && sweep.key !== 'drift-compensation')
    throw new XbarError('--drift-compensation needs --time: compensation rescales the drift seen at a read time');
  loadTech(o.tech); // a bad technology file fails here, before the long work starts
  const points: SweepPoint[] = sweep.values.map((v) => {
    const po = sweep.key ? applySweep(o, sweep.key, v) : o;
    return {
      value: v,
      device: deviceFrom(po),
      circuit: resolveCircuit(circuitFrom(po)),
      // '' is refused by the parser (an empty --faults is a mistake, not 'no faults').
      faults: po.faults !== undefined ? loadFaultSpec(po.faults) : [],
      driftCompensation: po.driftCompensation,
    };
  });
  return { o, sweep, times, points };
}

export async function runSimulate(o: SimulateOptions, kernels: Kernels, progress: Progress): Promise<SimulateRun> {
  const opened = openModel(o.model, o, { nonFinite: o.allowNonfinite ? 'warn' : 'refuse' });
  // Shown even with --quiet or --json: the results are not meaningful and the user must know.
  for (const w of opened.warnings) process.stderr.write(`warning: ${w}\n`);
  const { file } = opened;
  // The crossbar maps the network with its batch norms folded into the layers before them.
  const model = foldBatchNorm(opened.model);
  const datasetName = o.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!datasetName) throw new XbarError(`${o.model} does not record its dataset: pass --dataset`);
  const sp = sweepPoints(o);
  o = sp.o;
  const { sweep, times, points } = sp;
  if (o.shard && !o.out) throw new XbarError('--shard needs --out: a shard writes its part of the results there, for xbar merge');
  const ds = loadDataset(datasetName, { dataDir: o.dataDir, limitTest: o.limitTest });
  checkCompatible(model.spec, ds, `model ${o.model}`);
  // Before the first chip: workers each holding a chip and a batch must fit.
  const need = chipMemory(model.spec, { workers: Math.min(o.workers ?? availableParallelism(), o.chips), images: ds.test.n });
  if (need) checkFits(need, availableMemory(), `simulating ${o.model}`, 'use fewer --workers or a smaller model');
  // Every file goes to a staging folder that replaces --out whole at the end (src/study/run-folder.ts).
  const runOptions = { out: o.out, command: 'simulate', key: o, inputs: [o.model, o.dataDir, o.device] };
  const study = { sweepKey: sweep.key, points, chips: o.chips, seed: o.seed, times, tech: loadTech(o.tech), shard: o.shard };
  // The chips of a point (all, or a shard's) on worker threads, unless there are too few for two.
  const runChips: ChipsRunner = (m, plan, device, faults, test, cfg, onChip) => {
    const workers = Math.min(o.workers ?? availableParallelism(), cfg.chips);
    return workers > 1
      ? runMonteCarloParallel(m, plan, device, faults, test, cfg, { workers, kernels: kernels.name === 'js' ? 'js' : 'native', onChip })
      : runMonteCarlo(m, plan, device, faults, test, cfg, kernels, { onChip });
  };
  return inRunFolder(runOptions, async (run) => {
    // The defect maps of the first chips of every point with faults: each shard draws those of its own chips.
    const onPoint = (p: SweepPoint, plan: CrossbarPlan, chips: { first: number; count: number }) => {
      const nMaps = Math.min(o.chips, o.maps ?? 1) - chips.first;
      if (run && p.faults.length && nMaps > 0)
        writeChipMaps(
          run.path('maps', sweep.key ? `${sweep.key}=${p.value}`.replace(/[^\w.=-]+/g, '_') : ''),
          plan,
          p.device,
          p.faults,
          o.seed,
          Math.min(nMaps, chips.count),
          chips.first,
        );
    };
    const result = await simulateStudy(o.model, model, ds, study, kernels, progress, { runChips, onPoint });
    if (run && o.shard) run.write(PART_FILE, `${JSON.stringify(simulatePart(o, o.shard, model, ds, result, sweep.key, times))}\n`);
    else if (run)
      for (const [name, text] of Object.entries(simulateFiles({ ...studyConfig(o), out: o.out }, result))) run.write(name, text);
    return result;
  });
}

/** A shard's part (src/cluster/part.ts): its points' chips, and what must agree between the shards of one run. */
function simulatePart(
  o: SimulateOptions,
  shard: Shard,
  model: Model,
  ds: Dataset,
  result: SimulateRun,
  sweepKey: string,
  times: { label: string }[] | null,
) {
  const data: SimulatePartData = {
    sweepKey,
    times: times?.map((t) => t.label) ?? null,
    points: result.items.total / o.chips,
    chips: o.chips,
    dataset: ds.name,
    run: result.ran.map((p) => ({
      index: p.index,
      value: p.value,
      configs: p.configs,
      cost: p.cost,
      images: p.result.images,
      seconds: p.result.seconds,
      chips: p.result.chips,
    })),
  };
  const nCalib = Math.min(ds.train.n, result.circuit.calibrationImages);
  const inputs = {
    model: checksum(JSON.stringify(model.spec), ...model.params.map((q) => q.value)),
    data: checksum(ds.test.x, ds.test.y, ds.train.x.subarray(0, nCalib * model.inputSize)),
  };
  const header = { command: 'simulate', config: studyConfig(o), inputs, seed: o.seed, shard, items: result.items };
  return makePart(header, data);
}
