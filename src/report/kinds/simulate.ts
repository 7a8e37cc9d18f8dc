import { eng } from '../../cost/format.js';
import { categoryPlot, histogramPlot, type SeriesPoint, scatterPlot, sweepPlot } from '../plots.js';
import type { BuildContext, Plot, ReportKind, ResultInput, Section, Table } from '../types.js';
import { Fields, fmt, isNum, isObj, type Json, pct, pp, type Stat, slug } from '../util.js';
import { deviceSpreadPlot } from './device.js';
import { extractFaultMap, faultMapPlot, type LayerMap } from './fault-map.js';

/** `xbar-simulate`: results.json of `xbar simulate --out`, one point per sweep value (one point without a sweep). */

export const SIMULATE_FORMAT = 'xbar-simulate';

export interface SimPoint {
  key: string;
  value: string;
  faults: string;
  stat: Stat;
  p025: number;
  p975: number;
  ci95: [number, number];
  seconds: number;
  images: number;
  /** Mean stuck (faulty) weights per weighted layer over the chips. */
  faultyMean: number[];
  /** Stuck weights of each chip over all layers. */
  faultyPerChip: number[];
  device: Json;
  circuit: Json;
  /** With --time: seconds after programming, and the drift compensation, of this point's read. */
  read?: { t: number; compensation: string };
  /** Energy per inference of the point's mapping (xbar cost's model), when the result records it. */
  energy: number | null;
}

export interface SimMap {
  /** The sweep point's label (`sigma=0.1`), '' without a sweep. */
  point: string;
  map: LayerMap;
}

export interface SimData {
  xbarVersion: string;
  createdAt: string;
  model: string;
  dataset: string;
  command: Json;
  seed: number | null;
  chips: number;
  sweepKey: string;
  /** The sweep has numbers on its axis (sigma, levels...), not categories (faults, layers). */
  numeric: boolean;
  points: SimPoint[];
  maps: SimMap[];
  notes: string[];
}

/** Sweep keys whose values are categories even when they look like numbers (layers=0;1;all). */
const CATEGORICAL = new Set(['faults', 'layers']);

/** The folder name `xbar simulate` gives a sweep point's maps (see runSimulate). */
export const mapDirName = (key: string, value: string): string => (key ? `${key}=${value}`.replace(/[^\w.=-]+/g, '_') : '');

export function extractSimulate(input: ResultInput): SimData {
  const f = new Fields(input.file);
  const j = input.json;
  const pointsIn = f.arr(j.points, 'points');
  if (!pointsIn.length) f.fail('points', 'is empty');
  const points: SimPoint[] = pointsIn.map((pIn, i) => {
    const at = `points[${i}]`;
    const p = f.obj(pIn, at);
    const s = f.obj(p.summary, `${at}.summary`);
    const chips = f.arr(p.chips, `${at}.chips`).map((cIn, k) => f.obj(cIn, `${at}.chips[${k}]`));
    const values = chips.map((c, k) => f.frac(c.accuracy, `${at}.chips[${k}].accuracy`));
    const faulty = chips.map((c) => (Array.isArray(c.faultyWeights) ? c.faultyWeights.filter(isNum) : []));
    const nLayers = Math.max(0, ...faulty.map((x) => x.length));
    const faultyMean = Array.from({ length: nLayers }, (_, l) => faulty.reduce((a, x) => a + (x[l] ?? 0), 0) / Math.max(1, faulty.length));
    const ci = Array.isArray(s.ci95) ? s.ci95 : [];
    // Optional fields: absent is fine, present must be a share.
    const nonNegative = (x: number, path: string) => (x < 0 ? f.fail(path, `is ${x}, below 0`) : x);
    const share = (v: unknown, path: string) => (v === undefined || v === null ? undefined : f.frac(v, path));
    return {
      key: typeof p.key === 'string' ? p.key : '',
      value: typeof p.value === 'string' ? p.value : fmt(p.value),
      faults: typeof p.faults === 'string' ? p.faults : '',
      stat: {
        mean: f.frac(s.mean, `${at}.summary.mean`),
        std: f.frac(s.std, `${at}.summary.std`),
        min: f.frac(s.min, `${at}.summary.min`),
        max: f.frac(s.max, `${at}.summary.max`),
        n: f.int(s.n, `${at}.summary.n`, 1),
        // A confidence interval of the mean may leave 0..1 with few chips: not a share.
        lo: isNum(ci[0]) ? ci[0] : undefined,
        hi: isNum(ci[1]) ? ci[1] : undefined,
        values,
      },
      p025: share(s.p025, `${at}.summary.p025`) ?? Number.NaN,
      p975: share(s.p975, `${at}.summary.p975`) ?? Number.NaN,
      ci95: [isNum(ci[0]) ? ci[0] : Number.NaN, isNum(ci[1]) ? ci[1] : Number.NaN],
      seconds: p.seconds === undefined ? Number.NaN : nonNegative(f.num(p.seconds, `${at}.seconds`), `${at}.seconds`),
      images: p.images === undefined ? Number.NaN : f.int(p.images, `${at}.images`, 1),
      faultyMean,
      faultyPerChip: faulty.map((x) => x.reduce((a, b) => a + b, 0)),
      device: isObj(p.device) ? p.device : {},
      circuit: isObj(p.circuit) ? p.circuit : {},
      ...(isObj(p.read) && isNum(p.read.t)
        ? { read: { t: p.read.t, compensation: typeof p.read.compensation === 'string' ? p.read.compensation : 'none' } }
        : {}),
      energy: isObj(p.cost) && isNum(p.cost.energy) ? p.cost.energy : null,
    };
  });
  const sweepKey = points[0].key;
  const command = isObj(j.command) ? j.command : {};
  const notes: string[] = [];
  const maps: SimMap[] = [];
  const byDir = new Map(points.map((p) => [mapDirName(p.key, p.value), p.key ? `${p.key}=${p.value}` : '']));
  const order = (m: { point: string }) => {
    const i = points.findIndex((p) => mapDirName(p.key, p.value) === m.point);
    return i < 0 ? points.length : i;
  };
  const mapFiles = [...input.maps].sort((a, b) => order(a) - order(b));
  for (const m of mapFiles) {
    if (m.error) {
      notes.push(`defect map left out: ${m.error}`);
      continue;
    }
    try {
      maps.push({ point: byDir.get(m.point) ?? m.point, map: extractFaultMap(m.json, m.path) });
    } catch (e) {
      notes.push(`defect map left out: ${(e as Error).message}`);
    }
  }
  return {
    xbarVersion: typeof j.xbarVersion === 'string' ? j.xbarVersion : '',
    createdAt: typeof j.createdAt === 'string' ? j.createdAt : '',
    model: typeof j.model === 'string' ? j.model : fmt(command.model),
    dataset: typeof j.dataset === 'string' ? j.dataset : '',
    command,
    seed: isNum(command.seed) ? command.seed : null,
    chips: points[0].stat.n ?? points[0].stat.values?.length ?? 0,
    sweepKey,
    numeric:
      Boolean(sweepKey) && !CATEGORICAL.has(sweepKey) && points.every((p) => p.value.trim() !== '' && Number.isFinite(Number(p.value))),
    points,
    maps,
    notes,
  };
}

/** The command line that reproduces the run, from the options results.json records. */
export function commandLine(command: Json): string {
  const parts = ['xbar simulate'];
  const skip = new Set(['json', 'quiet', 'out', 'workers', 'kernels', 'threads']);
  for (const [k, v] of Object.entries(command)) {
    if (skip.has(k) || v === undefined || v === null) continue;
    const flag = `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (k === 'saturate') {
      if (v === false) parts.push('--no-saturate');
    } else if (v === true) parts.push(flag);
    else if (v !== false) parts.push(`${flag} ${/^[\w.,=/:-]+$/.test(String(v)) ? String(v) : `'${String(v)}'`}`);
  }
  return parts.join(' ');
}

const DEVICE_FIELDS: [string, string, (v: unknown) => string][] = [
  ['name', 'device', fmt],
  ['gMin', 'Gmin', (v) => (isNum(v) ? `${fmt(v * 1e6)} uS` : '')],
  ['gMax', 'Gmax', (v) => (isNum(v) ? `${fmt(v * 1e6)} uS` : '')],
  ['levels', 'levels', (v) => (v === 0 ? 'continuous' : fmt(v))],
  ['programSigma', 'programming sigma', fmt],
  // Conductance-dependent spreads (docs/devices.md): name the parts; the curves are in results.json.
  ['programNoise', 'programming noise vs G', (v) => (v && typeof v === 'object' ? Object.keys(v).join(' + ') : '')],
  ['readNoise', 'read noise', fmt],
];
const CIRCUIT_FIELDS: [string, string, (v: unknown) => string][] = [
  ['arrayRows', 'array rows', fmt],
  ['arrayCols', 'array columns', fmt],
  ['scaling', 'weight scaling', fmt],
  ['vRead', 'read voltage', (v) => `${fmt(v)} V`],
  ['dacBits', 'DAC bits', (v) => (v === 0 ? 'none' : fmt(v))],
  ['adcBits', 'ADC bits', (v) => (v === 0 ? 'none' : fmt(v))],
  ['adcOffset', 'ADC offset (std, LSB)', fmt],
  ['adcGainError', 'ADC gain error (std)', fmt],
  ['adcNoise', 'ADC noise per conversion (std, LSB)', fmt],
  ['dacInl', 'DAC INL (LSB at mid-code)', fmt],
  ['saturate', 'saturating neurons', fmt],
  ['wireResistance', 'wire resistance', (v) => `${fmt(v)} ohm`],
  ['calibrationImages', 'calibration images', fmt],
];

function configFacts(d: SimData): [string, string][] {
  const facts: [string, string][] = [
    ['model', d.model],
    ['dataset', d.dataset],
    [
      'chips',
      `${d.chips}${d.seed !== null ? ` (chips 0..${d.chips - 1} of seed ${d.seed}; chip i of seed s is always the same chip)` : ''}`,
    ],
  ];
  if (d.seed !== null) facts.push(['seed', String(d.seed)]);
  if (d.points[0].images) facts.push(['test images', fmt(d.points[0].images)]);
  const perPoint = (get: (p: SimPoint) => unknown, show: (v: unknown) => string): string => {
    const vals = d.points.map((p) => show(get(p)));
    return new Set(vals).size === 1 ? vals[0] : `per point: ${vals.join(' | ')}`;
  };
  for (const [k, label, show] of DEVICE_FIELDS)
    if (d.points[0].device[k] !== undefined) facts.push([label, perPoint((p) => p.device[k], show)]);
  for (const [k, label, show] of CIRCUIT_FIELDS)
    if (d.points[0].circuit[k] !== undefined) facts.push([label, perPoint((p) => p.circuit[k], show)]);
  facts.push([
    'faults',
    perPoint(
      (p) => p.faults,
      (v) => (v ? String(v) : 'none'),
    ),
  ]);
  if (d.sweepKey) facts.push(['sweep', `${d.sweepKey} = ${d.points.map((p) => p.value).join(', ')}`]);
  if (Object.keys(d.command).length) facts.push(['command', commandLine(d.command)]);
  if (d.xbarVersion) facts.push(['written by', `xbar ${d.xbarVersion}${d.createdAt ? ` on ${d.createdAt}` : ''}`]);
  return facts;
}

function summaryTable(d: SimData): Table {
  const faultsCol = d.sweepKey && ['faults', 'density', 'fault-rate'].includes(d.sweepKey);
  const anyFaulty = d.points.some((p) => p.faultyMean.some((x) => x > 0));
  const anyEnergy = d.points.some((p) => p.energy !== null);
  const columns = [
    ...(d.sweepKey ? [d.sweepKey] : []),
    ...(faultsCol ? ['faults'] : []),
    'chips',
    'mean',
    'std (pp)',
    'min',
    'max',
    '95% CI of mean',
    'middle 95% of chips',
    ...(anyFaulty ? ['stuck weights per layer (mean)'] : []),
    ...(anyEnergy ? ['energy / inference'] : []),
    'seconds',
  ];
  const rows = d.points.map((p) => [
    ...(d.sweepKey ? [p.value] : []),
    ...(faultsCol ? [p.faults || 'none'] : []),
    fmt(p.stat.n),
    pct(p.stat.mean),
    pp(p.stat.std),
    pct(p.stat.min),
    pct(p.stat.max),
    Number.isNaN(p.ci95[0]) ? '' : `[${pct(p.ci95[0])}, ${pct(p.ci95[1])}]`,
    Number.isNaN(p.p025) ? '' : `[${pct(p.p025)}, ${pct(p.p975)}]`,
    ...(anyFaulty ? [p.faultyMean.map((x) => fmt(Number(x.toFixed(1)))).join(' / ')] : []),
    ...(anyEnergy ? [p.energy === null ? '' : eng(p.energy, 'J')] : []),
    Number.isNaN(p.seconds) ? '' : p.seconds.toFixed(2),
  ]);
  return { caption: 'Accuracy over chips', columns, rows };
}

export function simulatePlots(d: SimData, maxMaps: number): Plot[] {
  const plots: Plot[] = [];
  const series: SeriesPoint[] = d.points.map((p) => ({ x: d.numeric ? Number(p.value) : p.value, stat: p.stat }));
  const timed = d.points.every((p) => p.read) && (d.sweepKey === 'time' || d.sweepKey.endsWith('+time'));
  if (timed) {
    // Read times on a log axis; with another sweep (drift compensation...), one line per value.
    const other = d.sweepKey.endsWith('+time') ? d.sweepKey.slice(0, -'+time'.length) : '';
    const pts: SeriesPoint[] = d.points.map((p) => ({
      x: p.read?.t ?? Number.NaN,
      stat: p.stat,
      series: other ? `${other}=${p.value.split('@')[0]}` : `drift compensation ${p.read?.compensation}`,
    }));
    plots.push({
      id: 'accuracy-vs-time',
      title: 'Accuracy vs time after programming',
      caption: `Mean accuracy over ${d.chips} chips at each read time (seconds after programming, log scale), mean +- one standard deviation (band); the same programmed chips aged to every time.`,
      spec: sweepPlot(`Accuracy vs time after programming (${d.chips} chips)`, 'time after programming (s)', pts, { logX: true }),
    });
  } else if (!d.sweepKey) {
    const p = d.points[0];
    plots.push({
      id: 'accuracy-histogram',
      title: 'Accuracy of the chips',
      caption: `${p.stat.n} chips: mean ${pct(p.stat.mean)}, std ${pp(p.stat.std)} pp, min ${pct(p.stat.min)}, max ${pct(p.stat.max)}; the orange line is the mean.`,
      spec: histogramPlot(`Accuracy of ${p.stat.n} chips${p.faults ? ` (${p.faults})` : ''}`, p.stat.values ?? []),
    });
  } else if (d.numeric) {
    plots.push({
      id: `accuracy-vs-${slug(d.sweepKey)}`,
      title: `Accuracy vs ${d.sweepKey}`,
      caption: `Mean accuracy over ${d.chips} chips per point (line), mean +- one standard deviation (dark band), the middle 95% of chips (light band) and every chip (dots).`,
      spec: sweepPlot(`Accuracy vs ${d.sweepKey} (${d.chips} chips per point)`, d.sweepKey, series),
    });
  } else {
    const what = d.sweepKey === 'layers' ? 'defect layer' : d.sweepKey === 'faults' ? 'defect pattern' : d.sweepKey;
    plots.push({
      id: `accuracy-per-${slug(d.sweepKey)}`,
      title: `Accuracy per ${what}`,
      caption: `Mean accuracy over ${d.chips} chips (bars), +- one standard deviation (lines) and every chip (dots).${d.sweepKey === 'layers' ? ` Faults: ${d.points[0].faults.split('@')[0]}.` : ''}`,
      spec: categoryPlot(`Accuracy per ${what} (${d.chips} chips each)`, d.sweepKey === 'layers' ? 'faulty layers' : what, series),
    });
  }
  const energies = d.points.map((p) => p.energy);
  if (d.sweepKey && energies.every((e) => e !== null && e > 0) && new Set(energies).size > 1) {
    plots.push({
      id: 'accuracy-vs-energy',
      title: 'Accuracy vs energy per inference',
      caption: `Each point is one ${d.sweepKey} value (${d.points.map((p) => `${p.value}: ${eng(p.energy ?? 0, 'J')}`).join(', ')}): mean accuracy over ${d.chips} chips against the energy of one inference on its mapping (xbar cost's model, docs/cost.md), with the same bands as above.`,
      spec: sweepPlot(
        `Accuracy vs energy per inference (${d.sweepKey} sweep)`,
        'energy per inference (pJ)',
        d.points.map((p) => ({ x: (p.energy ?? 0) * 1e12, stat: p.stat })),
      ),
    });
  }
  if (d.points.some((p) => p.faultyPerChip.some((x) => x > 0))) {
    const pts = d.points.flatMap((p) =>
      (p.stat.values ?? []).map((acc, i) => ({
        x: p.faultyPerChip[i] ?? 0,
        y: acc,
        label: `chip ${i}`,
        series: d.sweepKey ? `${p.key}=${p.value}` : '',
      })),
    );
    plots.push({
      id: 'accuracy-vs-stuck-weights',
      title: 'Accuracy vs stuck weights',
      caption: 'Each dot is one chip: its accuracy against the number of weights with a stuck cell, over all layers.',
      spec: scatterPlot('Chip accuracy vs stuck weights', 'weights with a stuck cell (all layers)', 'accuracy', pts, { yPercent: true }),
    });
  }
  const spread = deviceSpreadPlot(d.points[0].device);
  if (spread) plots.push(spread);
  d.maps.slice(0, maxMaps).forEach((m, i) => {
    plots.push(faultMapPlot(m.map, `map-${i + 1}${m.point ? `-${slug(m.point)}` : ''}`, { point: m.point, showFaults: false }));
  });
  return plots;
}

export const simulateKind: ReportKind<SimData> = {
  format: SIMULATE_FORMAT,
  label: 'Monte Carlo simulation',
  versions: [1],
  extract: extractSimulate,
  section(d: SimData, ctx: BuildContext): Section {
    const notes = [...d.notes];
    if (d.maps.length > ctx.maxMaps) notes.push(`${d.maps.length - ctx.maxMaps} more defect maps not drawn (--max-maps ${ctx.maxMaps}).`);
    if (d.points.some((p) => p.faults) && !d.maps.length && ctx.maxMaps > 0)
      notes.push('No defect maps beside this result (xbar simulate writes them to maps/ with --out and --maps n).');
    const first = d.points[0];
    const last = d.points[d.points.length - 1];
    const headline = d.sweepKey
      ? `${d.sweepKey} ${first.value} to ${last.value}: ${pct(first.stat.mean)} to ${pct(last.stat.mean)} over ${d.chips} chips`
      : `${pct(first.stat.mean)} +- ${pp(first.stat.std)} pp over ${d.chips} chips`;
    return {
      id: ctx.id,
      format: SIMULATE_FORMAT,
      title: `Simulation: ${d.model || 'model'}${d.sweepKey ? `, sweep of ${d.sweepKey}` : ''}`,
      file: '',
      facts: configFacts(d),
      tables: [summaryTable(d)],
      plots: simulatePlots(d, ctx.maxMaps),
      notes,
      headline,
    };
  },
};
