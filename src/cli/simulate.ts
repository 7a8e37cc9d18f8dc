import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { checksum, makePart, PART_FILE, studyConfig } from '../cluster/part.js';
import { chipsOfPoint, itemBlock, type Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import { costOfModel, measureActivity } from '../cost/network.js';
import { summary as costSummary } from '../cost/recovery.js';
import type { Compensation, ReadAt } from '../crossbar/age.js';
import { checkFaultMaps } from '../crossbar/chip.js';
import { type CircuitInput, idealCircuit, resolveCircuit } from '../crossbar/circuit.js';
import { type ChipResult, runMonteCarlo } from '../crossbar/montecarlo.js';
import { runMonteCarloParallel } from '../crossbar/parallel-node.js';
import { planCrossbars } from '../crossbar/plan.js';
import { simulateResultsJson } from '../crossbar/results.js';
import type { Dataset } from '../data/index.js';
import { loadDataset } from '../data/node.js';
import { type Device, type DeviceInput, resolveDevice } from '../device/config.js';
import { type FaultSpec, formatFaultSpec } from '../faults/index.js';
import { loadFaultSpec } from '../faults/node.js';
import { foldBatchNorm } from '../nn/fold.js';
import type { Model } from '../nn/model.js';
import { inRunFolder, type RunFolder } from '../study/run-folder.js';
import { type PointConfig, pointRows, type SimulatePartData, type SimulatePartPoint, type SweepRow } from '../study/simulate-part.js';
import { loadTech } from './cost.js';
import { writeChipMaps } from './maps.js';
import { openModel } from './onnx.js';
import type { MappingFlags } from './options.js';
import type { Progress } from './progress.js';
import { checkCompatible } from './train.js';

export interface SimulateOptions extends MappingFlags {
  model: string;
  device: string;
  sigma?: number;
  readNoise?: number;
  levels?: number;
  faults?: string;
  chips: number;
  seed: number;
  arraySize?: number;
  dacBits?: number;
  adcBits?: number;
  adcOffset?: number;
  adcGainError?: number;
  adcNoise?: number;
  dacInl?: number;
  wireResistance?: number;
  scaling?: 'layer' | 'column';
  saturate?: boolean;
  ideal?: boolean;
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
}

const TIME_UNITS: Record<string, number> = {
  s: 1,
  sec: 1,
  min: 60,
  h: 3600,
  d: 86400,
  w: 7 * 86400,
  mo: 30 * 86400,
  month: 30 * 86400,
  y: 365 * 86400,
  year: 365 * 86400,
};

/** '1s,1h,1d,1mo,1y' -> seconds (a month is 30 days, a year 365); a bare number is seconds. */
export function parseTimes(text: string): { label: string; t: number }[] {
  const items = text
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  if (!items.length) throw new XbarError('--time has no values: give times after programming such as 1s,1h,1d,1mo,1y');
  return items.map((label) => {
    const m = /^(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([a-z]*)$/i.exec(label);
    const unit = m ? TIME_UNITS[m[2].toLowerCase() || 's'] : undefined;
    if (!m || unit === undefined)
      throw new XbarError(`--time '${label}' is not a time: use a number with s, min, h, d, w, mo or y (e.g. 1s,1h,1d,1mo,1y)`);
    return { label, t: Number(m[1]) * unit };
  });
}

/** A preset name or a JSON device file, with command-line overrides. */
export function deviceFrom(o: SimulateOptions): Device {
  const overrides: Partial<DeviceInput> = {};
  if (o.sigma !== undefined) overrides.programSigma = o.sigma;
  if (o.readNoise !== undefined) overrides.readNoise = o.readNoise;
  if (o.levels !== undefined) overrides.levels = o.levels;
  if (o.device.endsWith('.json')) {
    if (!existsSync(o.device)) throw new XbarError(`device file ${o.device} not found`);
    let json: DeviceInput;
    try {
      json = JSON.parse(readFileSync(o.device, 'utf8'));
    } catch (e) {
      throw new XbarError(`device file ${o.device} is not valid JSON: ${(e as Error).message}`);
    }
    return resolveDevice(json, overrides, `device file ${o.device}`);
  }
  return resolveDevice(o.device, overrides);
}

export function circuitFrom(o: SimulateOptions): CircuitInput {
  const c: CircuitInput = o.ideal ? { ...idealCircuit } : {};
  if (o.arraySize !== undefined) {
    c.arrayRows = o.arraySize;
    c.arrayCols = o.arraySize;
  }
  if (o.dacBits !== undefined) c.dacBits = o.dacBits;
  if (o.adcBits !== undefined) c.adcBits = o.adcBits;
  if (o.adcOffset !== undefined) c.adcOffset = o.adcOffset;
  if (o.adcGainError !== undefined) c.adcGainError = o.adcGainError;
  if (o.adcNoise !== undefined) c.adcNoise = o.adcNoise;
  if (o.dacInl !== undefined) c.dacInl = o.dacInl;
  if (o.wireResistance !== undefined) c.wireResistance = o.wireResistance;
  if (o.scaling !== undefined) c.scaling = o.scaling;
  if (o.mapping !== undefined) c.mapping = o.mapping;
  if (o.cellsPerWeight !== undefined) c.cellsPerWeight = o.cellsPerWeight;
  if (o.sliceBits !== undefined) c.sliceBits = o.sliceBits;
  if (o.saturate === false) c.saturate = false;
  return c;
}

export type { SweepRow } from '../study/simulate-part.js';

/** `key=v1,v2,...`; fault specs contain commas, so `faults=` and `layers=` take `;` between values. */
export function parseSweep(text: string): { key: string; values: string[] } {
  const eq = text.indexOf('=');
  const keys = [
    'sigma',
    'read-noise',
    'levels',
    'adc-bits',
    'dac-bits',
    'adc-offset',
    'adc-gain-error',
    'adc-noise',
    'dac-inl',
    'array-size',
    'wire-resistance',
    'faults',
    'layers',
    'fault-rate',
    'density',
    'time',
    'drift-compensation',
    'mapping',
    'cells-per-weight',
  ];
  if (eq < 1) throw new XbarError(`--sweep '${text}' must look like key=v1,v2,... with key one of ${keys.join(', ')}`);
  const key = text.slice(0, eq);
  if (!keys.includes(key)) throw new XbarError(`--sweep key '${key}' is unknown: use one of ${keys.join(', ')}`);
  const sep = key === 'faults' || key === 'layers' ? ';' : ',';
  const values = text
    .slice(eq + 1)
    .split(sep)
    .map((v) => v.trim())
    .filter(Boolean);
  if (!values.length) throw new XbarError(`--sweep ${key}= has no values`);
  return { key, values };
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
      return {
        ...o,
        faults: r === 0 ? o.faults : `random:sa0=${r / 2},sa1=${r / 2}${o.faults ? `+${formatFaultSpec(loadFaultSpec(o.faults))}` : ''}`,
      };
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

function withLayers(faults: string, layers: string): string {
  const terms = formatFaultSpec(loadFaultSpec(faults)).split('+');
  // Through the text form, so that the layer list gets the parser's checks.
  return formatFaultSpec(loadFaultSpec(terms.map((t) => `${t.split('@')[0]}@layers=${layers}`).join('+')));
}

/** Sets the density of every region pattern; random patterns keep their rates. */
function withDensity(faults: string, density: number): string {
  const spec: FaultSpec = loadFaultSpec(faults).map((s) => ({
    ...s,
    patterns: s.patterns.map((p) => (p.pattern === 'random' ? p : { ...p, density })),
  }));
  return formatFaultSpec(spec);
}

export interface SimulateRun {
  rows: SweepRow[];
  model: string;
  dataset: string;
  device: Device;
  circuit: ReturnType<typeof resolveCircuit>;
}

export async function runSimulate(o: SimulateOptions, kernels: Kernels, progress: Progress): Promise<SimulateRun> {
  // The crossbar maps the network with its batch norms folded into the layers before them.
  const opened = openModel(o.model, o);
  const { file } = opened;
  const model = foldBatchNorm(opened.model);
  const datasetName = o.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!datasetName) throw new XbarError(`${o.model} does not record its dataset: pass --dataset`);
  let sweep = o.sweep ? parseSweep(o.sweep) : { key: '', values: [''] };
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
  // Validate every point before the long work starts.
  const points = sweep.values.map((v) => {
    const po = sweep.key ? applySweep(o, sweep.key, v) : o;
    return {
      value: v,
      o: po,
      device: deviceFrom(po),
      circuit: resolveCircuit(circuitFrom(po)),
      faults: po.faults ? loadFaultSpec(po.faults) : [],
    };
  });
  if (o.shard && !o.out) throw new XbarError('--shard needs --out: a shard writes its part of the results there, for xbar merge');
  const ds = loadDataset(datasetName, { dataDir: o.dataDir, limitTest: o.limitTest });
  checkCompatible(model.spec, ds, `model ${o.model}`);
  // Every file goes to a staging folder that replaces --out whole at the end (src/study/run-folder.ts).
  const runOptions = { out: o.out, command: 'simulate', key: o, inputs: [o.model, o.dataDir, o.device] };
  return inRunFolder(runOptions, (run) => simulatePoints(o, run, model, points, sweep.key, times, ds, kernels, progress));
}

async function simulatePoints(
  o: SimulateOptions,
  run: RunFolder | null,
  model: Model,
  points: { value: string; o: SimulateOptions; device: Device; circuit: ReturnType<typeof resolveCircuit>; faults: FaultSpec }[],
  sweepKey: string,
  times: ReturnType<typeof parseTimes> | null,
  ds: Dataset,
  kernels: Kernels,
  progress: Progress,
): Promise<SimulateRun> {
  const sweep = { key: sweepKey };
  const tech = loadTech(o.tech);
  const nCalib = Math.min(ds.train.n, points[0].circuit.calibrationImages);
  const calib = ds.train.x.subarray(0, nCalib * model.inputSize);
  const rows: SweepRow[] = [];
  const configs: PointConfig[] = [];
  // A shard runs its block of the flattened (point x chip) items: for each point, a range of chips.
  const items = points.length * o.chips;
  const block = o.shard ? itemBlock(items, o.shard) : { first: 0, count: items };
  const partPoints: SimulatePartPoint[] = [];
  for (const [index, p] of points.entries()) {
    const chips = chipsOfPoint(block, o.chips, index);
    if (!chips.count) continue;
    const nWeighted = model.layers.filter((l) => l.spec.type === 'dense' || l.spec.type === 'conv2d').length;
    for (const f of p.faults)
      if (f.layers !== 'all')
        for (const l of f.layers)
          if (l < 0 || l >= nWeighted)
            throw new XbarError(`--faults names layer ${l}, but the model has weighted layers 0..${nWeighted - 1}`);
    const plan = planCrossbars(model, p.circuit, calib, nCalib, kernels);
    checkFaultMaps(plan, p.faults);
    const cost = costSummary(
      costOfModel({ model, plan, device: p.device, activity: measureActivity(model, plan, calib, nCalib, kernels) }, tech),
    );
    progress.start(chips.count, sweep.key ? `${sweep.key}=${p.value}` : 'chips');
    const onChip = (r: ChipResult, done: number) => progress.update(done, `chip ${r.chip}: ${(100 * r.accuracy).toFixed(2)}%`);
    const reads: ReadAt[] | undefined = times?.map(({ t }) => ({ t, compensation: p.o.driftCompensation ?? 'none' }));
    const cfg = { chips: chips.count, firstChip: chips.first, seed: o.seed, reads };
    const workers = Math.min(o.workers ?? availableParallelism(), chips.count);
    const result =
      workers > 1
        ? await runMonteCarloParallel(model, plan, p.device, p.faults, ds.test, cfg, {
            workers,
            kernels: kernels.name === 'js' ? 'js' : 'native',
            onChip,
          })
        : runMonteCarlo(model, plan, p.device, p.faults, ds.test, cfg, kernels, { onChip });
    progress.stop();
    const pointConfigs = times && times.length > 1 ? times.map((_, i) => configOf(p, reads?.[i])) : [configOf(p, reads?.[0])];
    const pointRowsOf = pointRows(sweep.key, times?.map((t) => t.label) ?? null, p.value, result, cost);
    rows.push(...pointRowsOf);
    configs.push(...pointConfigs);
    if (o.shard)
      partPoints.push({
        index,
        value: p.value,
        configs: pointConfigs,
        cost,
        images: result.images,
        seconds: result.seconds,
        chips: result.chips,
      });
    // The defect maps of the first chips: each shard draws those of its own chips.
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
    if (sweep.key || pointRowsOf.length > 1)
      for (const r of pointRowsOf)
        progress.log(
          `${r.key}=${r.value}: accuracy ${(100 * r.result.summary.mean).toFixed(2)}% +- ${(100 * r.result.summary.std).toFixed(2)} over ${chips.count} chips`,
        );
  }
  const result: SimulateRun = { rows, model: o.model, dataset: ds.name, device: points[0].device, circuit: points[0].circuit };
  if (run && o.shard) {
    const data: SimulatePartData = {
      sweepKey: sweep.key,
      times: times?.map((t) => t.label) ?? null,
      points: points.length,
      chips: o.chips,
      dataset: ds.name,
      run: partPoints,
    };
    const inputs = {
      model: checksum(JSON.stringify(model.spec), ...model.params.map((q) => q.value)),
      data: checksum(ds.test.x, ds.test.y, calib),
    };
    const header = { command: 'simulate', config: studyConfig(o), inputs, seed: o.seed, shard: o.shard, items: { ...block, total: items } };
    run.write(PART_FILE, `${JSON.stringify(makePart(header, data))}\n`);
  } else if (run) writeResults(o, run, result, configs);
  return result;
}

function configOf(p: { device: Device; circuit: unknown; faults: FaultSpec }, read: ReadAt | undefined): PointConfig {
  return { device: p.device, circuit: p.circuit, faults: p.faults ? formatFaultSpec(p.faults) : '', ...(read ? { read } : {}) };
}

function csvRow(cells: (string | number)[]): string {
  return cells.map((c) => (typeof c === 'string' && /[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : String(c))).join(',');
}

/**
 * results.json (everything, with the options that change a result and seeds), chips.csv and
 * summary.csv: of the whole run, or of a sharded one's merged parts (xbar merge).
 */
export function writeResults(
  o: { out?: string; model: string },
  folder: RunFolder,
  run: { rows: SweepRow[]; model: string; dataset: string },
  configs: PointConfig[],
): void {
  const json = simulateResultsJson({
    command: { ...studyConfig(o), out: o.out },
    model: run.model,
    dataset: run.dataset,
    points: run.rows.map((r, i) => ({ key: r.key, value: r.value, ...configs[i], cost: r.cost, result: r.result })),
  });
  const chips = [csvRow(['sweep_key', 'sweep_value', 'chip', 'accuracy', 'correct', 'images', 'faulty_weights_per_layer'])];
  const summary = [
    csvRow(['sweep_key', 'sweep_value', 'chips', 'mean', 'std', 'min', 'max', 'ci95_low', 'ci95_high', 'p2.5', 'p97.5', 'seconds']),
  ];
  for (const r of run.rows) {
    for (const c of r.result.chips)
      chips.push(csvRow([r.key, r.value, c.chip, c.accuracy, c.correct, r.result.images, c.faultyWeights.join(' ')]));
    const s = r.result.summary;
    summary.push(
      csvRow([r.key, r.value, s.n, s.mean, s.std, s.min, s.max, s.ci95[0], s.ci95[1], s.p025, s.p975, r.result.seconds.toFixed(3)]),
    );
  }
  folder.write('results.json', `${JSON.stringify(json, null, 2)}\n`);
  folder.write('chips.csv', `${chips.join('\n')}\n`);
  folder.write('summary.csv', `${summary.join('\n')}\n`);
}
