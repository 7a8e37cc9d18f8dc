import { type GroupedBar, groupedBars, linePlot, matrixPlot, scatterPlot } from '../plots.js';
import type { BuildContext, Plot, ReportKind, ResultInput, Section, Table } from '../types.js';
import {
  accuracyStat,
  arraysOfObjects,
  beforeAfter,
  isNum,
  isObj,
  type Json,
  labelOf,
  meanStd,
  pct,
  pick,
  pp,
  type Stat,
  scalarFacts,
  slug,
} from '../util.js';
import { hardwareFact } from './cost.js';

/**
 * `xbar-corrector`: the learned output corrector (`xbar correct train|eval`). Read tolerantly,
 * since the writer is young: accuracy before and after correction wherever it appears
 * (`before`/`after`, `uncorrected`/`corrected`, as numbers, summaries or per-chip lists), per
 * chip, per defect type, leave-one-type-out, and corrector size sweeps. docs/report.md lists the
 * field names it looks for.
 */

export const CORRECTOR_FORMAT = 'xbar-corrector';

export interface BeforeAfterRow {
  label: string;
  before: Stat;
  after: Stat;
  /** Corrector parameters, when the row is one corrector size. */
  params?: number;
  /** Colour in per-chip plots (the chip's defect type). */
  series?: string;
  /** Which corrector, when a group has several per label. */
  variant?: string;
}

export interface CorrectorData {
  facts: [string, string][];
  overall: { before: Stat; after: Stat } | null;
  /** What the overall figure is: 'held-out chips', or which corrector of a study. */
  overallLabel: string;
  perChip: BeforeAfterRow[];
  /** Before/after per category: defect type, held-out type, corrector... one group per array found. */
  groups: { name: string; rows: BeforeAfterRow[] }[];
  /** Accuracy against corrector size. */
  sizes: { params: number; after: Stat; before?: Stat; label: string; series?: string }[];
  /** Leave-one-type-out (or any train x test) matrix of accuracies. */
  matrix: { x: string; y: string; v: number }[];
  /** The network's accuracy in software, for reference. */
  software?: number;
  notes: string[];
}

const LABELS = [
  'heldOut',
  'held_out',
  'heldOutType',
  'testType',
  'type',
  'defect',
  'defectType',
  'pattern',
  'name',
  'label',
  'kind',
  'corrector',
  'model',
  'size',
  'test',
];
const PARAMS = ['parameters', 'params', 'parameterCount', 'paramCount', 'nParams'];
const SKIP_FACTS = new Set(['format', 'version']);

function paramsOf(o: Json): number | undefined {
  const v = pick(o, ...PARAMS);
  if (isNum(v)) return v;
  const c = pick(o, 'cost', 'corrector', 'model');
  const w = isObj(c) ? pick(c, ...PARAMS) : undefined;
  return isNum(w) ? w : undefined;
}

function matrixOf(v: unknown): { x: string; y: string; v: number }[] {
  // {rows|train: [...], cols|test: [...], values|accuracy: number[][]}
  if (isObj(v)) {
    const ys = pick(v, 'rows', 'train', 'trainTypes', 'trainedOn');
    const xs = pick(v, 'cols', 'columns', 'test', 'testTypes', 'testedOn');
    const vals = pick(v, 'values', 'accuracy', 'accuracies', 'matrix');
    if (Array.isArray(ys) && Array.isArray(xs) && Array.isArray(vals))
      return vals.flatMap((row, i) =>
        Array.isArray(row)
          ? row.flatMap((a, j) => {
              const s = accuracyStat(a);
              return s ? [{ x: String(xs[j]), y: String(ys[i]), v: s.mean }] : [];
            })
          : [],
      );
  }
  // [{train, test, accuracy}]
  if (Array.isArray(v))
    return v.flatMap((c) => {
      if (!isObj(c)) return [];
      const y = pick(c, 'train', 'trainedOn', 'trainTypes', 'row');
      const x = pick(c, 'test', 'testedOn', 'heldOut', 'col');
      const s = accuracyStat(pick(c, 'accuracy', 'after', 'corrected', 'value', 'mean'));
      return x !== undefined && y !== undefined && s ? [{ x: labelOf({ x }, ['x'], ''), y: labelOf({ y }, ['y'], ''), v: s.mean }] : [];
    });
  return [];
}

/** Before/after of one row: the usual pairs, or `uncorrected` with the corrector's `summary`. */
function baOf(it: Json): { before: Stat; after: Stat } | null {
  const direct = beforeAfter(it);
  if (direct) return direct;
  const before = accuracyStat(pick(it, 'uncorrected', 'before', 'baseline'));
  const after = accuracyStat(pick(it, 'corrected', 'after', 'summary', 'accuracy'));
  return before && after ? { before, after } : null;
}

/** A per-chip row whose `corrected` lists several predictors: the first is the corrector's. */
function chipRow(it: Json): Json {
  const c = it.corrected;
  if (Array.isArray(c)) {
    const first = c.find(isNum);
    return { ...it, corrected: first ?? null };
  }
  return it;
}

/** Objects whose values are all objects, as rows labelled by their key (`byType: {ring: {...}}`). */
function recordsOfObjects(o: unknown, path = '', depth = 3): { path: string; items: Json[] }[] {
  const out: { path: string; items: Json[] }[] = [];
  if (!isObj(o) || depth < 0) return out;
  const vals = Object.values(o);
  if (path && vals.length >= 1 && vals.every(isObj))
    out.push({ path, items: Object.entries(o).map(([k, v]) => ({ label: k, ...(v as Json) })) });
  for (const [k, v] of Object.entries(o)) if (isObj(v)) out.push(...recordsOfObjects(v, path ? `${path}.${k}` : k, depth - 1));
  return out;
}

/** Rows with a `group` field (size, loo, calib) split into one list per group. */
function splitGroups(list: { path: string; items: Json[] }[]): { path: string; items: Json[] }[] {
  return list.flatMap(({ path, items }) => {
    if (!items.every((it) => typeof it.group === 'string')) return [{ path, items }];
    const groups = [...new Set(items.map((it) => it.group as string))];
    return groups.map((g) => ({ path: `${path}.${g}`, items: items.filter((it) => it.group === g) }));
  });
}

export function extractCorrector(input: ResultInput): CorrectorData {
  const j = input.json;
  // Settings and seeds; the before/after figures go to the tables instead.
  const facts = scalarFacts(j).filter(([k]) => !SKIP_FACTS.has(k) && !/^(before|after|uncorrected|corrected|baseline)\b/i.test(k));
  facts.push(...hardwareFact(j.hardwareCost, 'corrector on the chip'));
  const notes: string[] = [];
  const nested = pick(j, 'evaluation', 'eval', 'test', 'heldOut', 'summary', 'result', 'results');
  let overall = baOf(j) ?? (isObj(nested) ? baOf(nested) : null);
  const perChip: BeforeAfterRow[] = [];
  const groups: CorrectorData['groups'] = [];
  const sizes: CorrectorData['sizes'] = [];
  let matrix = matrixOf(pick(j, 'matrix', 'leaveOneOutMatrix', 'generalisation', 'generalization'));
  const candidates = splitGroups([...arraysOfObjects(j), ...recordsOfObjects(j)]);
  for (const { path, items } of candidates) {
    const chipLike = items.every((it) => isNum(it.chip));
    if (chipLike) {
      if (perChip.length) continue; // the same chips listed twice (train results list them under heldOut)
      for (const it of items) {
        const ba = baOf(chipRow(it));
        const type = labelOf(it, ['type', 'defect', 'pattern'], '');
        if (ba) perChip.push({ label: `chip ${it.chip}${type ? ` (${type})` : ''}`, ...ba, series: type || undefined });
      }
      continue;
    }
    const rows = items.map((it, i) => ({ it, ba: baOf(it), i }));
    const isSizes =
      /size/i.test(path) || (items.every((it) => paramsOf(it) !== undefined) && !/chip|type|defect|loo|leave|calib/i.test(path));
    if (isSizes) {
      const before = sizes.length;
      for (const { it, ba, i } of rows) {
        const params = paramsOf(it);
        const hidden = pick(it, 'hidden', 'hiddenLayers', 'layers');
        const label = labelOf(
          it,
          ['name', 'label', 'corrector', 'kind'],
          Array.isArray(hidden) ? `hidden ${hidden.join('-') || 'none (linear)'}` : `#${i + 1}`,
        );
        const norm = pick(it, 'norm', 'normalisation', 'normalization', 'variant');
        if (params !== undefined && ba)
          sizes.push({ params, after: ba.after, before: ba.before, label, series: typeof norm === 'string' ? norm : undefined });
      }
      if (sizes.length > before) continue;
    }
    const withBA = rows.filter((r) => r.ba);
    if (!withBA.length) {
      if (/matrix|leave|loo|generali/i.test(path) && !matrix.length) matrix = matrixOf(items);
      continue;
    }
    const out: BeforeAfterRow[] = withBA.map(({ it, ba, i }) => ({
      label: labelOf(it, LABELS, `#${i + 1}`),
      before: (ba as { before: Stat }).before,
      after: (ba as { after: Stat }).after,
      params: paramsOf(it),
    }));
    // Several correctors per label (leave-one-out per normalisation): tell them apart by name.
    if (new Set(out.map((r) => r.label)).size < out.length)
      withBA.forEach(({ it }, k) => {
        const v = labelOf(it, ['name', 'corrector', 'norm', 'variant'], '');
        if (v && v !== out[k].label) out[k].variant = v;
      });
    groups.push({ name: path, rows: out });
  }
  sizes.sort((a, b) => a.params - b.params);
  let overallLabel = 'held-out chips';
  // A study (rows of size / loo / calib correctors): its per-chip lists hold one accuracy per
  // corrector, so the headline is the best corrector of the size sweep on all held-out chips.
  const study = Array.isArray(j.rows) && j.rows.some((r) => isObj(r) && typeof r.group === 'string');
  if (study) {
    perChip.length = 0;
    const best = sizes.reduce<(typeof sizes)[number] | null>((a, b) => (!a || b.after.mean > a.after.mean ? b : a), null);
    const before = accuracyStat(j.uncorrected) ?? best?.before;
    if (best && before) {
      overall = { before, after: best.after };
      overallLabel = `best corrector (${best.label}${best.series && !best.label.includes(best.series) ? `, ${best.series}` : ''})`;
    }
  }
  if (!overall && perChip.length)
    overall = {
      before: accuracyStat(perChip.map((c) => c.before.mean)) as Stat,
      after: accuracyStat(perChip.map((c) => c.after.mean)) as Stat,
    };
  if (!overall && !perChip.length && !groups.length && !sizes.length && !matrix.length)
    notes.push(
      'No accuracy before/after correction recognised in this file (see docs/report.md for the fields the report reads); its settings are listed above.',
    );
  const software = accuracyStat(pick(j, 'softwareAccuracy', 'cleanAccuracy', 'software'));
  return { facts, overall, overallLabel, perChip, groups, sizes, matrix, software: software?.mean, notes };
}

const groupTitle = (path: string): string => {
  if (/leave|loo|generali/i.test(path)) return 'Held-out defect type (leave one type out)';
  if (/type|defect|pattern/i.test(path)) return 'Per defect type';
  if (/calib/i.test(path)) return 'Per-chip calibration';
  return `Before and after: ${path}`;
};

function baTable(caption: string, head: string, rows: BeforeAfterRow[]): Table {
  const withParams = rows.some((r) => r.params !== undefined);
  return {
    caption,
    columns: [head, 'before', 'after', 'gain (pp)', ...(withParams ? ['parameters'] : [])],
    rows: rows.map((r) => [
      r.variant ? `${r.label}, ${r.variant}` : r.label,
      meanStd(r.before),
      meanStd(r.after),
      pp(r.after.mean - r.before.mean),
      ...(withParams ? [r.params !== undefined ? String(r.params) : ''] : []),
    ]),
  };
}

export function correctorPlots(d: CorrectorData): Plot[] {
  const plots: Plot[] = [];
  const bars = (rows: BeforeAfterRow[]): GroupedBar[] => {
    if (!rows.some((r) => r.variant))
      return rows.flatMap((r) => [
        { group: r.label, bar: 'before correction', stat: r.before },
        { group: r.label, bar: 'after correction', stat: r.after },
      ]);
    // One 'before' bar per label, then one bar per corrector.
    const out: GroupedBar[] = [];
    for (const r of rows) {
      if (!out.some((b) => b.group === r.label)) out.push({ group: r.label, bar: 'before correction', stat: r.before });
      out.push({ group: r.label, bar: r.variant ?? 'after correction', stat: r.after });
    }
    return out;
  };
  if (d.overall)
    plots.push({
      id: 'before-after',
      title: 'Accuracy before and after the corrector',
      caption: `Mean accuracy (+- std over chips): ${pct(d.overall.before.mean)} before, ${pct(d.overall.after.mean)} after correction${
        d.software !== undefined ? `; the dashed line is the network in software, ${pct(d.software)}` : ''
      }.`,
      spec: groupedBars('Accuracy before and after the corrector', '', bars([{ label: d.overallLabel, ...d.overall }]), {
        reference: d.software,
      }),
    });
  for (const g of d.groups)
    plots.push({
      id: `before-after-${slug(g.name)}`,
      title: groupTitle(g.name),
      caption: 'Mean accuracy over chips before and after correction, +- one standard deviation where the result gives it.',
      spec: groupedBars(groupTitle(g.name), '', bars(g.rows), { reference: d.software }),
    });
  if (d.perChip.length)
    plots.push({
      id: 'per-chip',
      title: 'Per chip: before against after',
      caption: `Each dot is one chip${d.perChip.some((c) => c.series) ? ', coloured by its defect type' : ''}; above the diagonal the corrector helped.`,
      spec: scatterPlot(
        'Per chip: accuracy before and after correction',
        'before correction',
        'after correction',
        d.perChip.map((c) => ({ x: c.before.mean, y: c.after.mean, label: c.label, series: c.series })),
        { percent: true, diagonal: true },
      ),
    });
  if (d.sizes.length) {
    const pts = d.sizes.map((s) => ({
      x: s.params,
      y: s.after.mean,
      series: s.series ? `after correction (${s.series})` : 'after correction',
    }));
    const befores = new Map(d.sizes.filter((s) => s.before).map((s) => [s.params, (s.before as Stat).mean]));
    pts.push(...[...befores].map(([x, y]) => ({ x, y, series: 'before correction' })));
    const logX = Math.max(...d.sizes.map((s) => s.params)) / Math.max(1, Math.min(...d.sizes.map((s) => s.params))) > 20;
    plots.push({
      id: 'size-sweep',
      title: 'Accuracy vs corrector size',
      caption:
        'Accuracy after correction against the corrector parameter count; the papers report correctors under about 200 parameters failing.',
      spec: linePlot('Accuracy vs corrector size', 'corrector parameters', 'accuracy', pts, {
        percent: true,
        logX,
        ruleX: { at: 200, label: '200 parameters' },
      }),
    });
  }
  if (d.matrix.length)
    plots.push({
      id: 'leave-one-out-matrix',
      title: 'Leave one defect type out',
      caption: 'Accuracy after correction on each test defect type (columns) for a corrector trained without it (rows).',
      spec: matrixPlot('Leave one defect type out', 'tested on', 'trained on', d.matrix, { percent: true }),
    });
  return plots;
}

export const correctorKind: ReportKind<CorrectorData> = {
  format: CORRECTOR_FORMAT,
  label: 'learned output corrector',
  versions: [1],
  extract: extractCorrector,
  section(d: CorrectorData, ctx: BuildContext): Section {
    const tables: Table[] = [];
    if (d.overall)
      tables.push(baTable('Accuracy before and after correction', 'held-out chips', [{ label: d.overallLabel, ...d.overall }]));
    for (const g of d.groups) tables.push(baTable(groupTitle(g.name), 'case', g.rows));
    if (d.sizes.length)
      tables.push({
        caption: 'Corrector size',
        columns: ['corrector', 'parameters', 'before', 'after'],
        rows: d.sizes.map((s) => [s.label, String(s.params), meanStd(s.before), meanStd(s.after)]),
      });
    if (d.perChip.length > 0 && d.perChip.length <= 40) tables.push(baTable('Per chip', 'chip', d.perChip));
    const model = d.facts.find(([k]) => k === 'model')?.[1];
    const kind = d.facts.find(([k]) => k === 'kind')?.[1];
    return {
      id: ctx.id,
      format: CORRECTOR_FORMAT,
      title: `Learned output corrector${kind ? ` (${kind})` : ''}${model ? `: ${model}` : ''}`,
      file: '',
      facts: d.facts,
      tables,
      plots: correctorPlots(d),
      notes: d.notes,
      headline: d.overall
        ? `${pct(d.overall.before.mean)} before, ${pct(d.overall.after.mean)} after correction${d.overallLabel !== 'held-out chips' ? `, ${d.overallLabel}` : ''}`
        : 'corrector results',
    };
  },
};
