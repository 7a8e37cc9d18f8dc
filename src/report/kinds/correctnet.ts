import { type GroupedBar, groupedBars, linePlot, type SeriesPoint, sweepPlot } from '../plots.js';
import type { BuildContext, Plot, ReportKind, ResultInput, Section, Table } from '../types.js';
import {
  accuracyStat,
  arraysOfObjects,
  fmt,
  isNum,
  isObj,
  type Json,
  labelOf,
  meanStd,
  pct,
  pick,
  type Stat,
  scalarFacts,
  slug,
} from '../util.js';
import { hardwareFact } from './cost.js';

/**
 * `xbar-correctnet`: Lipschitz-regularised training, noise injection and RL-placed compensation
 * under weight variation. Read tolerantly: sigma-sweep rows `{sigma, method, mean, std}` (or
 * `summary`, or per-chip lists) anywhere in the file, optionally grouped by model; a clean
 * accuracy for reference; an RL training curve; per-layer error amplification. docs/report.md
 * lists the field names.
 */

export const CORRECTNET_FORMAT = 'xbar-correctnet';

export interface SweepRow {
  model: string;
  method: string;
  sigma: number;
  stat: Stat;
}

export interface CorrectnetData {
  facts: [string, string][];
  model: string;
  rows: SweepRow[];
  /** Clean (software) accuracy per model, '' for the file's one model. */
  clean: Map<string, number>;
  /** Clean accuracy of each method (`model|method`), when the file gives it. */
  cleanByMethod: Map<string, number>;
  /** The sigma the methods were trained and placed for, when the file says. */
  targetSigma?: number;
  /** Placement searches: search, placement, accuracy, overhead, reward, evaluations, seconds. */
  placements: string[][];
  /** The same for the per-chip calibrated modules (`calibrationPlacement`, with --calibrate-search). */
  calibratedPlacements: string[][];
  curves: { name: string; xTitle: string; yTitle: string; points: { x: number; y: number; series?: string }[] }[];
  /** Per-layer measurements (error amplification...): one bar per numeric field. */
  layerBars: { name: string; bars: GroupedBar[] }[];
  notes: string[];
}

const SIGMA = ['sigma', 'programSigma', 'variation', 'noise'];
const METHOD = ['method', 'variant', 'training', 'setup', 'config', 'mode', 'name', 'label'];
const CLEAN = ['cleanAccuracy', 'clean', 'softwareAccuracy', 'software', 'originalAccuracy', 'baselineAccuracy'];

function sweepRows(items: Json[], model: string, fallbackMethod: string): SweepRow[] {
  const out: SweepRow[] = [];
  for (const it of items) {
    const sigma = pick(it, ...SIGMA);
    if (!isNum(sigma)) continue;
    const stat = accuracyStat(pick(it, 'summary', 'accuracy', 'stats') ?? it);
    if (!stat) continue;
    const values = pick(it, 'accuracies', 'chipAccuracies');
    if (!stat.values && Array.isArray(values) && values.length && values.every(isNum))
      stat.values = stat.mean > 1 ? values.map((v) => v / 100) : values;
    out.push({ model: typeof it.model === 'string' ? it.model : model, method: labelOf(it, METHOD, fallbackMethod), sigma, stat });
  }
  return out;
}

/** Method form: `methods: [{method, cleanAccuracy, sweep: [{sigma, summary}]}]`. */
function nestedRows(items: Json[], model: string, path: string, cleanByMethod: Map<string, number>): SweepRow[] {
  return items.flatMap((it, i) => {
    const method = labelOf(it, METHOD, `${path} #${i + 1}`);
    for (const v of Object.values(it)) {
      if (!Array.isArray(v) || !v.length || !v.every(isObj)) continue;
      const r = sweepRows(v as Json[], model, method);
      if (!r.length) continue;
      const c = accuracyStat(pick(it, ...CLEAN));
      if (c) cleanByMethod.set(`${model}|${method}`, c.mean);
      return r;
    }
    return [];
  });
}

/** Arrays of numbers named like spectral norms, per parent (`amplification.plain.spectralNorms`). */
function spectralNorms(o: unknown, path: string[] = [], depth = 3): { series: string; values: number[] }[] {
  if (!isObj(o) || depth < 0) return [];
  return Object.entries(o).flatMap(([k, v]) =>
    Array.isArray(v) && /spectral/i.test(k) && v.length && v.every(isNum)
      ? [{ series: path[path.length - 1] ?? k, values: v as number[] }]
      : spectralNorms(v, [...path, k], depth - 1),
  );
}

const METRIC_ORDER = [/^amplification$/i, /outputError/i, /relativeAmplification/i, /ownError/i, /drop/i, /accuracy/i];
const metricRank = (k: string) => {
  const i = METRIC_ORDER.findIndex((re) => re.test(k));
  return i < 0 ? METRIC_ORDER.length : i;
};

/** Column form: `{sigmas: [...], methods|results: {plain: [acc per sigma], lipschitz: [...]}}`. */
function columnRows(o: Json, model: string): SweepRow[] {
  const sigmas = pick(o, 'sigmas', 'sigma');
  if (!Array.isArray(sigmas) || !sigmas.every(isNum)) return [];
  const out: SweepRow[] = [];
  for (const [name, v] of Object.entries(o)) {
    const cols = isObj(v) ? Object.entries(v) : [];
    for (const [method, vals] of cols)
      if (Array.isArray(vals) && vals.length === sigmas.length)
        vals.forEach((a, i) => {
          const stat = accuracyStat(a);
          if (stat)
            out.push({
              model,
              method: name === 'methods' || name === 'results' || name === 'accuracy' ? method : `${name}.${method}`,
              sigma: sigmas[i],
              stat,
            });
        });
  }
  return out;
}

export function extractCorrectnet(input: ResultInput): CorrectnetData {
  const j = input.json;
  const facts = scalarFacts(j).filter(([k]) => k !== 'format' && k !== 'version');
  if (Array.isArray(j.methods))
    for (const m of j.methods)
      if (isObj(m) && typeof m.method === 'string') facts.push(...hardwareFact(m.hardwareCost, `${m.method} modules on the chip`));
  const options = pick(j, 'options', 'command', 'config');
  const optModel = isObj(options) && typeof options.model === 'string' ? options.model : '';
  const topModel = typeof j.model === 'string' ? j.model : optModel;
  const rows: SweepRow[] = [];
  const clean = new Map<string, number>();
  const cleanByMethod = new Map<string, number>();
  const curves: CorrectnetData['curves'] = [];
  const layerSets: { model: string; path: string; items: Json[] }[] = [];
  const notes: string[] = [];
  // One experiment per model: the file itself, or each entry of models/experiments.
  const experiments: { o: Json; model: string }[] = [{ o: j, model: topModel }];
  const many = pick(j, 'models', 'experiments', 'networks');
  if (Array.isArray(many))
    for (const [i, m] of many.entries())
      if (isObj(m)) experiments.push({ o: m, model: labelOf(m, ['model', 'name', 'network', 'preset'], `model ${i + 1}`) });
  const prefix = (model: string) => (experiments.length > 1 && model ? `${model}: ` : '');
  for (const { o, model } of experiments) {
    const c = accuracyStat(pick(o, ...CLEAN));
    if (c) clean.set(model, c.mean);
    rows.push(...columnRows(o, model));
    for (const { path, items } of arraysOfObjects(o, '', 4)) {
      if (/^(models|experiments|networks)$/.test(path)) continue;
      const r = sweepRows(items, model, path);
      if (r.length) {
        rows.push(...r);
        continue;
      }
      const nested = nestedRows(items, model, path, cleanByMethod);
      if (nested.length) {
        rows.push(...nested);
        continue;
      }
      const xKey = ['episode', 'step', 'iteration', 'epoch', 'round'].find((k) => items.every((it) => isNum(it[k])));
      if (xKey) {
        const numeric = Object.keys(items[0]).filter((k) => k !== xKey && items.every((it) => isNum(it[k])));
        const preferred = numeric.filter((k) => /reward|return|score|accuracy/i.test(k));
        const yKeys = preferred.length ? preferred : numeric;
        if (yKeys.length)
          curves.push({
            name: `${prefix(model)}${path}`,
            xTitle: xKey,
            yTitle: yKeys.length === 1 ? yKeys[0] : preferred.length ? 'reward' : 'value',
            points: items.flatMap((it) =>
              yKeys.map((k) => ({ x: it[xKey] as number, y: it[k] as number, series: yKeys.length > 1 ? k : undefined })),
            ),
          });
        continue;
      }
      if (items.every((it) => isNum(it.layer) || typeof it.layer === 'string')) layerSets.push({ model, path, items });
    }
  }
  // Per-layer figures: one plot per group (amplification, sensitivity) and metric, one bar per method.
  const layerBars: CorrectnetData['layerBars'] = [];
  const groupsOf = new Map<string, { series: string; items: Json[] }[]>();
  for (const { model, path, items } of layerSets) {
    const parts = path.split('.');
    const group = `${prefix(model)}${parts[0]}`;
    const series = parts.length > 2 ? parts.slice(1, -1).join('.') : parts.length === 2 ? parts[1] : '';
    groupsOf.set(group, [...(groupsOf.get(group) ?? []), { series, items }]);
  }
  for (const [group, sets] of groupsOf) {
    const metrics = [
      ...new Set(sets.flatMap((s) => s.items.flatMap((it) => Object.keys(it).filter((k) => k !== 'layer' && isNum(it[k]))))),
    ].sort((a, b) => metricRank(a) - metricRank(b));
    const multi = sets.length > 1 || sets[0].series !== '';
    const bar = (it: Json, series: string, metric: string) => ({
      group: `layer ${it.layer}`,
      bar: series || metric,
      stat: { mean: it[metric] as number },
    });
    if (!multi)
      layerBars.push({ name: group, bars: sets[0].items.flatMap((it) => metrics.filter((m) => isNum(it[m])).map((m) => bar(it, '', m))) });
    else
      for (const m of metrics.slice(0, 2))
        layerBars.push({
          name: group.endsWith(m) ? group : `${group}: ${m}`,
          bars: sets.flatMap((s) => s.items.filter((it) => isNum(it[m])).map((it) => bar(it, s.series, m))),
        });
  }
  const norms = spectralNorms(j);
  if (norms.length)
    layerBars.push({
      name: 'spectral norm of each layer',
      bars: norms.flatMap((n) => n.values.map((v, l) => ({ group: `layer ${l}`, bar: n.series, stat: { mean: v } }))),
    });
  // The clean reference: the file's, else the plain method's, else the first method's.
  const models = [...new Set(rows.map((r) => r.model))];
  for (const m of models)
    if (!clean.has(m)) {
      const plain = cleanByMethod.get(`${m}|plain`) ?? [...cleanByMethod].find(([k]) => k.startsWith(`${m}|`))?.[1];
      if (plain !== undefined) clean.set(m, plain);
    }
  // Sort, and drop the same point listed twice (e.g. a summary table and a detailed one).
  const seen = new Set<string>();
  const unique = rows
    .sort((a, b) => a.model.localeCompare(b.model) || a.sigma - b.sigma)
    .filter((r) => {
      const k = `${r.model}|${r.method}|${r.sigma}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  if (!unique.length)
    notes.push(
      'No sigma sweep recognised in this file (see docs/report.md for the fields the report reads); its settings are listed above.',
    );
  const head = pick(j, 'headline', 'summary');
  const target = pick(head, 'targetSigma', 'sigma') ?? pick(j, 'targetSigma');
  return {
    facts,
    model: topModel,
    rows: unique,
    clean,
    cleanByMethod,
    targetSigma: isNum(target) ? target : undefined,
    placements: placementRows(pick(j, 'placement')),
    calibratedPlacements: placementRows(pick(j, 'calibrationPlacement')),
    curves,
    layerBars: layerBars.filter((b) => b.bars.length),
    notes,
  };
}

/** The placement searches (`results.{rl,greedy,exhaustive}`: best configuration, its accuracy, the search cost). */
function placementRows(placement: unknown): string[][] {
  const results = pick(placement, 'results', 'searches');
  const actions = pick(placement, 'actions');
  if (!isObj(results)) return [];
  const name = (cfg: unknown) =>
    Array.isArray(cfg)
      ? cfg.map((a) => (Array.isArray(actions) && isNum(a) && actions[a] !== undefined ? String(actions[a]) : String(a))).join(', ')
      : '';
  return Object.entries(results).flatMap(([search, r]) => {
    const best = pick(r, 'best');
    if (!isObj(best)) return [];
    return [
      [
        search,
        name(best.config),
        pct(isNum(best.accuracy) ? best.accuracy : undefined),
        pct(isNum(best.overhead) ? best.overhead : undefined),
        fmt(best.reward),
        fmt(pick(r, 'evaluations')),
        fmt(pick(r, 'seconds')),
      ],
    ];
  });
}

export function correctnetPlots(d: CorrectnetData): Plot[] {
  const plots: Plot[] = [];
  const models = [...new Set(d.rows.map((r) => r.model))];
  for (const model of models) {
    const rows = d.rows.filter((r) => r.model === model);
    const methods = [...new Set(rows.map((r) => r.method))];
    const clean = d.clean.get(model) ?? d.clean.get('');
    const name = model ? ` (${model})` : '';
    const series: SeriesPoint[] = rows.map((r) => ({ x: r.sigma, stat: r.stat, series: r.method }));
    plots.push({
      id: `accuracy-vs-sigma${model ? `-${slug(model)}` : ''}`,
      title: `Accuracy vs sigma by method${name}`,
      caption: `Mean accuracy over chips per method, with a band of +- one standard deviation${clean !== undefined ? `; the dashed line is the clean accuracy, ${pct(clean)}` : ''}.`,
      spec: sweepPlot(
        `Accuracy vs sigma by method${name}`,
        'sigma (log-normal weight variation)',
        methods.length > 1 ? series : series.map((s) => ({ ...s, series: undefined })),
        {
          reference: clean,
        },
      ),
    });
    const sigmas = [...new Set(rows.map((r) => r.sigma))];
    if (methods.length > 1)
      plots.push({
        id: `methods-per-sigma${model ? `-${slug(model)}` : ''}`,
        title: `Each method at each sigma${name}`,
        caption:
          'Mean accuracy (+- std over chips) of every method side by side: the suppression and compensation methods against the plain network.',
        spec: groupedBars(
          `Each method at each sigma${name}`,
          'sigma',
          rows
            .filter((r) => sigmas.length <= 10 || sigmas.indexOf(r.sigma) % Math.ceil(sigmas.length / 10) === 0)
            .map((r) => ({ group: String(r.sigma), bar: r.method, stat: r.stat })),
          { barOrder: methods, reference: clean },
        ),
      });
  }
  for (const [i, c] of d.curves.entries())
    plots.push({
      id: `curve-${i + 1}-${slug(c.name)}`,
      title: `Training curve: ${c.name}`,
      caption: `${c.yTitle} against ${c.xTitle}.`,
      spec: linePlot(`Training curve: ${c.name}`, c.xTitle, c.yTitle, c.points),
    });
  for (const [i, b] of d.layerBars.entries())
    plots.push({
      id: `layers-${i + 1}-${slug(b.name)}`,
      title: `Per layer: ${b.name}`,
      caption: 'Per-layer figures as the result gives them (e.g. error amplification, output error norm over input error norm).',
      spec: groupedBars(`Per layer: ${b.name}`, 'layer', b.bars, { percent: false }),
    });
  return plots;
}

function sweepTable(d: CorrectnetData, model: string): Table {
  const rows = d.rows.filter((r) => r.model === model);
  const methods = [...new Set(rows.map((r) => r.method))];
  const sigmas = [...new Set(rows.map((r) => r.sigma))].sort((a, b) => a - b);
  const clean = methods.map((m) => d.cleanByMethod.get(`${model}|${m}`));
  return {
    caption: `Accuracy (mean +- std, pp) by sigma and method${model ? ` (${model})` : ''}`,
    columns: ['sigma', ...methods],
    rows: [
      ...(clean.some((c) => c !== undefined) ? [['clean (software)', ...clean.map((c) => pct(c))]] : []),
      ...sigmas.map((s) => [
        `${s}${s === d.targetSigma ? ' (target)' : ''}`,
        ...methods.map((m) => meanStd(rows.find((r) => r.sigma === s && r.method === m)?.stat)),
      ]),
    ],
  };
}

export const correctnetKind: ReportKind<CorrectnetData> = {
  format: CORRECTNET_FORMAT,
  label: 'CorrectNet (Lipschitz, compensation)',
  versions: [1],
  extract: extractCorrectnet,
  section(d: CorrectnetData, ctx: BuildContext): Section {
    const models = [...new Set(d.rows.map((r) => r.model))];
    const sigma = d.targetSigma ?? (d.rows.length ? Math.max(...d.rows.map((r) => r.sigma)) : undefined);
    const at = d.rows.filter((r) => r.sigma === sigma && r.model === models[0]);
    const tables = models.map((m) => sweepTable(d, m));
    if (d.placements.length)
      tables.push({
        caption: 'Compensation placement: each search and what it found',
        columns: ['search', 'placement (per site)', 'accuracy', 'overhead', 'reward', 'evaluations', 'seconds'],
        rows: d.placements,
      });
    if (d.calibratedPlacements.length)
      tables.push({
        caption: 'Placement of the per-chip calibrated modules: each search and what it found',
        columns: ['search', 'placement (per site)', 'accuracy', 'overhead', 'reward', 'evaluations', 'seconds'],
        rows: d.calibratedPlacements,
      });
    const named = models.filter(Boolean);
    return {
      id: ctx.id,
      format: CORRECTNET_FORMAT,
      title: `CorrectNet${named.length ? `: ${named.join(', ')}` : d.model ? `: ${d.model}` : ''}`,
      file: '',
      facts: d.facts,
      tables,
      plots: correctnetPlots(d),
      notes: d.notes,
      headline: at.length ? `sigma ${sigma}: ${at.map((r) => `${r.method} ${pct(r.stat.mean)}`).join(', ')}` : 'CorrectNet results',
    };
  },
};
