import { chipsOfPoint, type ItemRange, itemBlock, type Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';
import type { Kernels } from '../core/kernels.js';
import type { Progress } from '../core/progress.js';
import { costOfModel, measureActivity } from '../cost/network.js';
import { type CostSummary, summary as costSummary } from '../cost/recovery.js';
import type { Tech } from '../cost/tech.js';
import type { Compensation, ReadAt } from '../crossbar/age.js';
import { checkFaultMaps } from '../crossbar/chip.js';
import type { Circuit } from '../crossbar/circuit.js';
import { type ChipResult, type MonteCarloConfig, type MonteCarloResult, runMonteCarlo } from '../crossbar/montecarlo.js';
import { type CrossbarPlan, planCrossbars } from '../crossbar/plan.js';
import { simulateResultsJson } from '../crossbar/results.js';
import type { Dataset, Split } from '../data/dataset.js';
import type { Device } from '../device/config.js';
import { describeFaultLayers, type FaultSpec, formatFaultSpec } from '../faults/index.js';
import type { Model } from '../nn/model.js';
import { type PointConfig, pointRows, type SweepRow } from './simulate-part.js';

export type { PointConfig, SweepRow } from './simulate-part.js';

/**
 * The Monte Carlo study of `xbar simulate`: one network on many simulated chips at every point of
 * a sweep (device, circuit, faults), each point costed (energy, latency, area per inference), read
 * at one or several times after programming. No files: data in, results out (simulate-node.ts
 * opens the inputs, runs the chips on worker threads and writes the run folder).
 */

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

/** One point of a sweep: what its chips are made of. */
export interface SweepPoint {
  /** The sweep value ('' without a sweep). */
  value: string;
  device: Device;
  circuit: Circuit;
  faults: FaultSpec;
  /** Drift compensation at read time (with read times). */
  driftCompensation?: Compensation;
}

export interface SimulateStudy {
  /** The swept setting ('' without a sweep). */
  sweepKey: string;
  points: SweepPoint[];
  chips: number;
  seed: number;
  /** Read the chips at these times after programming (parseTimes); several times age the same chips. */
  times: { label: string; t: number }[] | null;
  /** The technology the points are costed with. */
  tech: Tech;
  /** Run only this shard of the (point x chip) items (src/cluster/): for each point, a range of its chips. */
  shard?: Shard;
}

/** Runs a point's chips: runMonteCarlo in this thread by default (simulate-node.ts: worker threads). */
export type ChipsRunner = (
  model: Model,
  plan: CrossbarPlan,
  device: Device,
  faults: FaultSpec,
  test: Split,
  cfg: MonteCarloConfig,
  onChip: (r: ChipResult, done: number) => void,
) => MonteCarloResult | Promise<MonteCarloResult>;

export interface SimulateHooks {
  runChips?: ChipsRunner;
  /** After a point's chips ran: its plan and the chips that ran, e.g. to draw their defect maps. */
  onPoint?: (point: SweepPoint, plan: CrossbarPlan, chips: ItemRange) => void;
}

export interface SimulateRun {
  rows: SweepRow[];
  model: string;
  dataset: string;
  device: Device;
  circuit: Circuit;
  /** Each row's configuration, as results.json records it. */
  configs: PointConfig[];
  /** The points that ran (all, or a shard's), with their chips: what a shard's part holds. */
  ran: PointRun[];
  /** The (point x chip) items that ran, of how many. */
  items: ItemRange & { total: number };
}

/** One sweep point as it ran: its rows' configurations, cost and result (its chips, or a shard's). */
export interface PointRun {
  /** The point's position in the sweep. */
  index: number;
  value: string;
  configs: PointConfig[];
  cost: CostSummary;
  result: MonteCarloResult;
}

/** Every point's chips: one row per point, or per (point, read time) with several times. */
export async function simulateStudy(
  name: string,
  model: Model,
  ds: Dataset,
  study: SimulateStudy,
  kernels: Kernels,
  progress: Progress,
  hooks: SimulateHooks = {},
): Promise<SimulateRun> {
  const { points, times, tech } = study;
  const sweep = { key: study.sweepKey };
  const runChips: ChipsRunner =
    hooks.runChips ??
    ((m, plan, device, faults, test, cfg, onChip) => runMonteCarlo(m, plan, device, faults, test, cfg, kernels, { onChip }));
  const nCalib = Math.min(ds.train.n, points[0].circuit.calibrationImages);
  const calib = ds.train.x.subarray(0, nCalib * model.inputSize);
  const rows: SweepRow[] = [];
  const configs: PointConfig[] = [];
  const ran: PointRun[] = [];
  // A shard runs its block of the flattened (point x chip) items: for each point, a range of chips.
  const total = points.length * study.chips;
  const block = study.shard ? itemBlock(total, study.shard) : { first: 0, count: total };
  // Every point's layers checked before the first chip of any point.
  const nWeighted = model.layers.filter((l) => l.spec.type === 'dense' || l.spec.type === 'conv2d').length;
  for (const p of points)
    for (const f of p.faults)
      if (f.layers !== 'all')
        for (const l of f.layers)
          if (l < 0 || l >= nWeighted)
            throw new XbarError(`--faults names layer ${l}, but the model has weighted layers 0..${nWeighted - 1}`);
  for (const [index, p] of points.entries()) {
    const chips = chipsOfPoint(block, study.chips, index);
    if (!chips.count) continue;
    if (p.faults.length)
      progress.log(`${sweep.key ? `${sweep.key}=${p.value}: ` : ''}faults: ${describeFaultLayers(p.faults, nWeighted).join('; ')}`);
    const plan = planCrossbars(model, p.circuit, calib, nCalib, kernels);
    checkFaultMaps(plan, p.faults);
    const cost = costSummary(
      costOfModel({ model, plan, device: p.device, activity: measureActivity(model, plan, calib, nCalib, kernels) }, tech),
    );
    progress.start(chips.count, sweep.key ? `${sweep.key}=${p.value}` : 'chips');
    const onChip = (r: ChipResult, done: number) => progress.update(done, `chip ${r.chip}: ${(100 * r.accuracy).toFixed(2)}%`);
    const reads: ReadAt[] | undefined = times?.map(({ t }) => ({ t, compensation: p.driftCompensation ?? 'none' }));
    const cfg = { chips: chips.count, firstChip: chips.first, seed: study.seed, reads };
    const result = await runChips(model, plan, p.device, p.faults, ds.test, cfg, onChip);
    progress.stop();
    // Several times: one row per (value, time), keyed 'time', or 'key+time' with values 'v@t' (pointRows).
    const pointConfigs = times && times.length > 1 ? times.map((_, i) => configOf(p, reads?.[i])) : [configOf(p, reads?.[0])];
    const pointRowsOf = pointRows(sweep.key, times?.map((t) => t.label) ?? null, p.value, result, cost);
    rows.push(...pointRowsOf);
    configs.push(...pointConfigs);
    ran.push({ index, value: p.value, configs: pointConfigs, cost, result });
    hooks.onPoint?.(p, plan, chips);
    if (sweep.key || pointRowsOf.length > 1)
      for (const r of pointRowsOf)
        progress.log(
          `${r.key}=${r.value}: accuracy ${(100 * r.result.summary.mean).toFixed(2)}% +- ${(100 * r.result.summary.std).toFixed(2)} over ${chips.count} chips`,
        );
  }
  return {
    rows,
    model: name,
    dataset: ds.name,
    device: points[0].device,
    circuit: points[0].circuit,
    configs,
    ran,
    items: { ...block, total },
  };
}

function configOf(p: { device: Device; circuit: unknown; faults: FaultSpec }, read: ReadAt | undefined): PointConfig {
  return { device: p.device, circuit: p.circuit, faults: p.faults ? formatFaultSpec(p.faults) : '', ...(read ? { read } : {}) };
}

function csvRow(cells: (string | number)[]): string {
  return cells.map((c) => (typeof c === 'string' && /[",\n]/.test(c) ? `"${c.replace(/"/g, '""')}"` : String(c))).join(',');
}

/**
 * The files of a run: results.json (everything, with the configuration and seeds; `command` the
 * options that reproduce it), chips.csv and summary.csv.
 */
export function simulateFiles(
  command: object,
  run: Pick<SimulateRun, 'rows' | 'model' | 'dataset' | 'configs'>,
): Record<'results.json' | 'chips.csv' | 'summary.csv', string> {
  const json = simulateResultsJson({
    command,
    model: run.model,
    dataset: run.dataset,
    points: run.rows.map((r, i) => ({ key: r.key, value: r.value, ...run.configs[i], cost: r.cost, result: r.result })),
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
  return {
    'results.json': `${JSON.stringify(json, null, 2)}\n`,
    'chips.csv': `${chips.join('\n')}\n`,
    'summary.csv': `${summary.join('\n')}\n`,
  };
}
