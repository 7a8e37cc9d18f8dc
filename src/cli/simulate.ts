import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import type { Kernels } from '../core/kernels.js';
import { type CircuitInput, idealCircuit, resolveCircuit } from '../crossbar/circuit.js';
import { type ChipResult, type MonteCarloResult, runMonteCarlo } from '../crossbar/montecarlo.js';
import { runMonteCarloParallel } from '../crossbar/parallel-node.js';
import { planCrossbars } from '../crossbar/plan.js';
import { loadDataset } from '../data/node.js';
import { type Device, type DeviceInput, resolveDevice } from '../device/config.js';
import { type FaultSpec, formatFaultSpec, parseFaultSpec } from '../faults/index.js';
import { loadFaultSpec } from '../faults/node.js';
import { loadModel } from '../nn/io-node.js';
import { VERSION } from '../version.js';
import { writeChipMaps } from './maps.js';
import type { Progress } from './progress.js';
import { checkCompatible } from './train.js';

export interface SimulateOptions {
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
  if (o.wireResistance !== undefined) c.wireResistance = o.wireResistance;
  if (o.scaling !== undefined) c.scaling = o.scaling;
  if (o.saturate === false) c.saturate = false;
  return c;
}

export interface SweepRow {
  key: string;
  value: string;
  result: MonteCarloResult;
}

/** `key=v1,v2,...`; fault specs contain commas, so `faults=` and `layers=` take `;` between values. */
export function parseSweep(text: string): { key: string; values: string[] } {
  const eq = text.indexOf('=');
  const keys = [
    'sigma',
    'read-noise',
    'levels',
    'adc-bits',
    'dac-bits',
    'array-size',
    'wire-resistance',
    'faults',
    'layers',
    'fault-rate',
    'density',
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
  }
  throw new XbarError(`--sweep key '${key}' is unknown`);
}

function withLayers(faults: string, layers: string): string {
  const terms = formatFaultSpec(loadFaultSpec(faults)).split('+');
  // Through the text form, so that the layer list gets the parser's checks.
  return formatFaultSpec(parseFaultSpec(terms.map((t) => `${t.split('@')[0]}@layers=${layers}`).join('+')));
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
  const { model, file } = loadModel(o.model);
  const datasetName = o.dataset ?? (typeof file.meta.dataset === 'string' ? file.meta.dataset : undefined);
  if (!datasetName) throw new XbarError(`${o.model} does not record its dataset: pass --dataset`);
  const sweep = o.sweep ? parseSweep(o.sweep) : { key: '', values: [''] };
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
  const ds = loadDataset(datasetName, { dataDir: o.dataDir, limitTest: o.limitTest });
  checkCompatible(model.spec, ds, `model ${o.model}`);
  const nCalib = Math.min(ds.train.n, points[0].circuit.calibrationImages);
  const calib = ds.train.x.subarray(0, nCalib * model.inputSize);
  const rows: SweepRow[] = [];
  for (const p of points) {
    const nWeighted = model.layers.filter((l) => l.spec.type === 'dense' || l.spec.type === 'conv2d').length;
    for (const f of p.faults)
      if (f.layers !== 'all')
        for (const l of f.layers)
          if (l < 0 || l >= nWeighted)
            throw new XbarError(`--faults names layer ${l}, but the model has weighted layers 0..${nWeighted - 1}`);
    const plan = planCrossbars(model, p.circuit, calib, nCalib, kernels);
    progress.start(o.chips, sweep.key ? `${sweep.key}=${p.value}` : 'chips');
    const onChip = (r: ChipResult, done: number) => progress.update(done, `chip ${r.chip}: ${(100 * r.accuracy).toFixed(2)}%`);
    const cfg = { chips: o.chips, seed: o.seed };
    const workers = Math.min(o.workers ?? availableParallelism(), o.chips);
    const result =
      workers > 1
        ? await runMonteCarloParallel(model, plan, p.device, p.faults, ds.test, cfg, {
            workers,
            kernels: kernels.name === 'js' ? 'js' : 'native',
            onChip,
          })
        : runMonteCarlo(model, plan, p.device, p.faults, ds.test, cfg, kernels, { onChip });
    progress.stop();
    rows.push({ key: sweep.key, value: p.value, result });
    const nMaps = Math.min(o.chips, o.maps ?? 1);
    if (o.out && p.faults.length && nMaps > 0)
      writeChipMaps(
        join(o.out, 'maps', sweep.key ? `${sweep.key}=${p.value}`.replace(/[^\w.=-]+/g, '_') : ''),
        plan,
        p.device,
        p.faults,
        o.seed,
        nMaps,
      );
    if (sweep.key)
      progress.log(
        `${sweep.key}=${p.value}: accuracy ${(100 * result.summary.mean).toFixed(2)}% +- ${(100 * result.summary.std).toFixed(2)} over ${o.chips} chips`,
      );
  }
  const run: SimulateRun = { rows, model: o.model, dataset: ds.name, device: points[0].device, circuit: points[0].circuit };
  if (o.out)
    writeResults(
      o,
      run,
      points.map((p) => ({ device: p.device, circuit: p.circuit, faults: p.faults ? formatFaultSpec(p.faults) : '' })),
    );
  return run;
}

function csvRow(cells: (string | number)[]): string {
  return cells.map((c) => (typeof c === 'string' && /[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : String(c))).join(',');
}

/** results.json (everything, with the configuration and seeds), chips.csv and summary.csv. */
function writeResults(o: SimulateOptions, run: SimulateRun, configs: { device: Device; circuit: unknown; faults: string }[]): void {
  const json = {
    format: 'xbar-simulate',
    version: 1,
    xbarVersion: VERSION,
    createdAt: new Date().toISOString(),
    command: { ...o },
    model: run.model,
    dataset: run.dataset,
    points: run.rows.map((r, i) => ({
      key: r.key,
      value: r.value,
      ...configs[i],
      summary: r.result.summary,
      seconds: r.result.seconds,
      images: r.result.images,
      chips: r.result.chips,
    })),
  };
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
  writeFileAtomic(join(o.out as string, 'results.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileAtomic(join(o.out as string, 'chips.csv'), `${chips.join('\n')}\n`);
  writeFileAtomic(join(o.out as string, 'summary.csv'), `${summary.join('\n')}\n`);
}
