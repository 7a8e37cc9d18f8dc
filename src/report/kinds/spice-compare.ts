import { type GroupedBar, groupedBars, scatterPlot } from '../plots.js';
import type { BuildContext, Plot, ReportKind, ResultInput, Section, Table } from '../types.js';
import { arraysOfObjects, flatten, fmt, isNum, type Json, labelOf, pct, scalarFacts, slug } from '../util.js';

/**
 * `xbar-spice-compare`: the behavioural model against ngspice on the same chips (`xbar spice
 * compare`). Read tolerantly: per-chip (or per-case) rows with accuracy from both engines,
 * prediction agreement, output-voltage errors and times, in flat (`spiceAccuracy`) or nested
 * (`spice.accuracy`) form; optional voltage samples for a scatter. docs/report.md lists the names.
 */

export const SPICE_COMPARE_FORMAT = 'xbar-spice-compare';

const SPICE = /spice|ngspice|circuit|reference/i;
const BEHAV = /behav|model|fast|xbar|simulat/i;

export interface EngineFigures {
  accBehavioural?: number;
  accSpice?: number;
  agreement?: number;
  secondsBehavioural?: number;
  secondsSpice?: number;
  /** The times are per image (a summary's), not for the whole run. */
  perImage?: boolean;
  speedup?: number;
  /** Images SPICE failed on (convergence), when the result says. */
  failures?: number;
  /** Voltage errors by field name (maxAbsError, meanRelError...). */
  errors: Record<string, number>;
}

export interface SpiceRow extends EngineFigures {
  label: string;
}

export interface SpiceData {
  facts: [string, string][];
  overall: EngineFigures;
  rows: SpiceRow[];
  samples: { x: number; y: number; label?: string }[];
  notes: string[];
}

/** Engine figures from one object's fields, whatever their nesting. */
export function figures(o: Json): EngineFigures {
  const f: EngineFigures = { errors: {} };
  for (const [k, v] of Object.entries(flatten(o))) {
    const key = k.toLowerCase();
    const last = k.split('.').pop() as string;
    if (/failure|failed/.test(key)) {
      if (isNum(v)) f.failures ??= v;
      else if (Array.isArray(v)) f.failures ??= v.length;
      continue;
    }
    if (!isNum(v)) continue;
    if (/err|deviation|diff/.test(key)) f.errors[last] ??= v;
    else if (/agree|match/.test(key)) f.agreement ??= v > 1 ? v / 100 : v;
    else if (/speed.?up/.test(key)) f.speedup ??= v;
    else if (/acc/.test(key)) {
      const a = v > 1 ? v / 100 : v;
      if (SPICE.test(k)) f.accSpice ??= a;
      else if (BEHAV.test(k)) f.accBehavioural ??= a;
    } else if (/sec|time|duration|ms$|millis/.test(key)) {
      const s = /ms$|millis/.test(key) && !/sec/.test(key) ? v / 1000 : v;
      const per = /per.?image/.test(key);
      // Whole-run times win over per-image ones; per-image ones are used when there is nothing else.
      if (per && (f.secondsSpice !== undefined || f.secondsBehavioural !== undefined) && !f.perImage) continue;
      if (SPICE.test(k) && (f.secondsSpice === undefined || (f.perImage && !per))) {
        f.secondsSpice = s;
        if (per) f.perImage = true;
        else delete f.perImage;
      } else if (BEHAV.test(k) && !SPICE.test(k) && (f.secondsBehavioural === undefined || (f.perImage && !per))) {
        f.secondsBehavioural = s;
        if (per) f.perImage = true;
        else delete f.perImage;
      }
    }
  }
  return f;
}

const hasFigures = (f: EngineFigures) =>
  f.accBehavioural !== undefined || f.accSpice !== undefined || f.agreement !== undefined || Object.keys(f.errors).length > 0;

export function extractSpiceCompare(input: ResultInput): SpiceData {
  const j = input.json;
  const facts = scalarFacts(j).filter(([k]) => k !== 'format' && k !== 'version' && !/err|acc|agree|sec|time/i.test(k));
  const overall = figures(Object.fromEntries(Object.entries(j).filter(([, v]) => !Array.isArray(v))));
  let rows: SpiceRow[] = [];
  const samples: SpiceData['samples'] = [];
  for (const { path, items } of arraysOfObjects(j)) {
    // Voltage samples: two numbers per item, one from each engine.
    const pair = (it: Json): [number, number] | null => {
      const flat = Object.entries(flatten(it)).filter(([, v]) => isNum(v)) as [string, number][];
      const s = flat.find(([k]) => SPICE.test(k) && !/err|acc|sec|time/i.test(k));
      const b = flat.find(([k]) => BEHAV.test(k) && !/err|acc|sec|time/i.test(k));
      return s && b ? [b[1], s[1]] : null;
    };
    if (/sample|voltage|output/i.test(path)) {
      for (const [i, it] of items.entries()) {
        const p = pair(it);
        if (p) samples.push({ x: p[0], y: p[1], label: labelOf(it, ['image', 'output', 'chip', 'name'], `#${i}`) });
      }
      if (samples.length) continue;
    }
    const r = items.map((it, i) => ({
      label: isNum(it.chip) ? `chip ${it.chip}` : labelOf(it, ['name', 'label', 'case', 'chip', 'id'], `${path} #${i}`),
      ...figures(it),
    }));
    if (!rows.length && r.some(hasFigures)) rows = r;
  }
  const notes: string[] = [];
  if (!hasFigures(overall) && !rows.length)
    notes.push('No behavioural-vs-SPICE figures recognised in this file (see docs/report.md for the fields the report reads).');
  return { facts, overall, rows, samples, notes };
}

const sec = (s: number | undefined, perImage?: boolean) =>
  s === undefined ? '' : `${s < 0.01 ? `${(s * 1000).toFixed(3)} ms` : `${s.toFixed(3)} s`}${perImage ? ' per image' : ''}`;
const speedup = (f: EngineFigures) =>
  f.speedup ?? (f.secondsBehavioural && f.secondsSpice ? f.secondsSpice / f.secondsBehavioural : undefined);

function rowsTable(d: SpiceData): Table {
  const errKeys = [...new Set([...Object.keys(d.overall.errors), ...d.rows.flatMap((r) => Object.keys(r.errors))])];
  const all: SpiceRow[] = [...d.rows, ...(hasFigures(d.overall) ? [{ label: 'overall', ...d.overall }] : [])];
  const failures = all.some((r) => r.failures !== undefined);
  return {
    caption: 'Behavioural model against SPICE',
    columns: [
      'case',
      'accuracy (behavioural)',
      'accuracy (SPICE)',
      'prediction agreement',
      ...errKeys,
      ...(failures ? ['SPICE failures'] : []),
      'time (behavioural)',
      'time (SPICE)',
      'speed-up',
    ],
    rows: all.map((r) => {
      const x = speedup(r);
      return [
        r.label,
        pct(r.accBehavioural),
        pct(r.accSpice),
        pct(r.agreement),
        ...errKeys.map((k) => fmt(r.errors[k])),
        ...(failures ? [fmt(r.failures)] : []),
        sec(r.secondsBehavioural, r.perImage),
        sec(r.secondsSpice, r.perImage),
        x !== undefined ? `${fmt(Number(x.toFixed(1)))}x` : '',
      ];
    }),
  };
}

export function spicePlots(d: SpiceData): Plot[] {
  const plots: Plot[] = [];
  const cases = d.rows.length ? d.rows : [{ label: 'overall', ...d.overall }];
  const acc: GroupedBar[] = cases.flatMap((r) => [
    ...(r.accBehavioural !== undefined ? [{ group: r.label, bar: 'behavioural', stat: { mean: r.accBehavioural } }] : []),
    ...(r.accSpice !== undefined ? [{ group: r.label, bar: 'SPICE', stat: { mean: r.accSpice } }] : []),
  ]);
  if (acc.length)
    plots.push({
      id: 'accuracy',
      title: 'Accuracy: behavioural model and SPICE',
      caption: 'Test accuracy of the same chips from the behavioural model and from ngspice.',
      spec: groupedBars('Accuracy: behavioural model and SPICE', '', acc, { barOrder: ['behavioural', 'SPICE'] }),
    });
  const errKeys = [...new Set(cases.flatMap((r) => Object.keys(r.errors)))];
  if (errKeys.length) {
    const bars = cases.flatMap((r) =>
      errKeys.filter((k) => r.errors[k] !== undefined).map((k) => ({ group: r.label, bar: k, stat: { mean: r.errors[k] } })),
    );
    const vals = bars.map((b) => b.stat.mean).filter((v) => v > 0);
    const log = vals.length === bars.length && Math.max(...vals) / Math.min(...vals) > 100;
    plots.push({
      id: 'voltage-error',
      title: 'Output-voltage error of the behavioural model against SPICE',
      caption: `Errors as the result gives them${log ? ' (log scale)' : ''}.`,
      spec: groupedBars('Output-voltage error against SPICE', '', bars, { percent: false, yTitle: 'error', log }),
    });
  }
  const times = cases.flatMap((r) => [
    ...(r.secondsBehavioural ? [{ group: r.label, bar: 'behavioural', stat: { mean: r.secondsBehavioural } }] : []),
    ...(r.secondsSpice ? [{ group: r.label, bar: 'SPICE', stat: { mean: r.secondsSpice } }] : []),
  ]);
  if (times.length)
    plots.push({
      id: 'time',
      title: 'Time: behavioural model and SPICE',
      caption: 'Wall time of each engine on the same work (log scale).',
      spec: groupedBars('Time: behavioural model and SPICE', '', times, {
        percent: false,
        yTitle: 'seconds',
        log: true,
        barOrder: ['behavioural', 'SPICE'],
      }),
    });
  if (d.samples.length)
    plots.push({
      id: 'voltages',
      title: 'Output voltages: SPICE against behavioural',
      caption: 'Each dot is one output voltage; on the diagonal the engines agree.',
      spec: scatterPlot('Output voltages: SPICE against behavioural', 'behavioural (V)', 'SPICE (V)', d.samples.slice(0, 5000), {
        diagonal: true,
      }),
    });
  return plots;
}

export const spiceCompareKind: ReportKind<SpiceData> = {
  format: SPICE_COMPARE_FORMAT,
  label: 'behavioural model vs SPICE',
  versions: [1],
  extract: extractSpiceCompare,
  section(d: SpiceData, ctx: BuildContext): Section {
    const o = d.overall;
    const parts = [
      o.agreement !== undefined ? `predictions agree on ${pct(o.agreement)}` : '',
      o.accBehavioural !== undefined && o.accSpice !== undefined ? `accuracy ${pct(o.accBehavioural)} vs ${pct(o.accSpice)} (SPICE)` : '',
      speedup(o) !== undefined ? `behavioural ${fmt(Number((speedup(o) as number).toFixed(1)))}x faster than SPICE` : '',
    ].filter(Boolean);
    const model = d.facts.find(([k]) => k === 'model')?.[1];
    return {
      id: ctx.id,
      format: SPICE_COMPARE_FORMAT,
      title: `SPICE cross-check${model ? `: ${model}` : ''}`,
      file: '',
      facts: d.facts,
      tables: d.rows.length || hasFigures(o) ? [rowsTable(d)] : [],
      plots: spicePlots(d).map((p) => ({ ...p, id: slug(p.id) })),
      notes: d.notes,
      headline: parts.join(', ') || 'SPICE comparison',
    };
  },
};
