import type { TopLevelSpec } from 'vega-lite';
import type { Stat } from './util.js';

/**
 * Vega-Lite specs for the plots the result kinds share. Every spec carries its data inline
 * (no URLs, so rendering never touches the network) and the same look.
 */

const WIDTH = 440;
const HEIGHT = 260;
const BLUE = '#3465a4';
const ORANGE = '#e8772e';
const GREY = '#555';
/** One colour per series, in the order series first appear, the same in every plot of a kind. */
export const PALETTE = [BLUE, ORANGE, '#4e9a06', '#8f5902', '#75507b', '#c4a000', '#cc0000', '#2e3436', '#06989a', '#ad7fa8'];

export const FAULT_COLORS = { 'stuck-on': '#d62728', 'stuck-off': '#1f4e9c', 'stuck-at': '#f0a30a' } as const;

const config = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 11, orient: 'bottom', direction: 'horizontal', labelLimit: 240, symbolOpacity: 1 },
  title: { fontSize: 13, anchor: 'start', offset: 8 },
};

function top(title: string | string[], spec: Record<string, unknown>): TopLevelSpec {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, config, background: 'white', ...spec } as TopLevelSpec;
}

const accAxis = (title = 'accuracy') => ({ title, axis: { format: '.0%' }, scale: { domain: [0, 1] } });

export interface SeriesPoint {
  /** Sweep value (number for a numeric axis, string for categories). */
  x: number | string;
  stat: Stat;
  /** Line, colour and legend entry when a plot has several series. */
  series?: string;
}

function bandRows(points: SeriesPoint[]) {
  return points.map((p) => {
    const s = p.stat;
    const sd = s.std ?? 0;
    const row: Record<string, unknown> = {
      x: p.x,
      series: p.series ?? '',
      mean: s.mean,
      sdLo: Math.max(0, s.mean - sd),
      sdHi: Math.min(1, s.mean + sd),
      std: sd,
      n: s.n ?? s.values?.length ?? null,
    };
    const lo = s.values?.length ? quantile(s.values, 0.025) : (s.min ?? null);
    const hi = s.values?.length ? quantile(s.values, 0.975) : (s.max ?? null);
    if (lo !== null && hi !== null) Object.assign(row, { lo, hi });
    return row;
  });
}

export function quantile(values: number[], q: number): number {
  const v = [...values].sort((a, b) => a - b);
  const pos = (v.length - 1) * q;
  const i = Math.floor(pos);
  return i + 1 < v.length ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[i];
}

/** Per-chip dots: at most `cap` per point, so that 10,000 chips stay a small picture. */
function chipRows(points: SeriesPoint[], cap = 200) {
  return points.flatMap((p) => (p.stat.values ?? []).slice(0, cap).map((acc) => ({ x: p.x, series: p.series ?? '', acc })));
}

/**
 * Accuracy against a numeric sweep value: mean line, a band of mean +- std, a lighter band of
 * the middle 95% of chips, and one dot per chip. With several series, one colour per series and
 * the std band only.
 */
export function sweepPlot(
  title: string,
  xTitle: string,
  points: SeriesPoint[],
  opts: { reference?: number; yTitle?: string; logX?: boolean } = {},
): TopLevelSpec {
  const rows = bandRows(points);
  const chips = chipRows(points);
  const multi = new Set(points.map((p) => p.series ?? '')).size > 1;
  const x = { field: 'x', type: 'quantitative', title: xTitle, scale: opts.logX ? { type: 'log' } : { zero: false, nice: false } };
  const y = { field: 'mean', type: 'quantitative', ...accAxis(opts.yTitle) };
  const tooltip = [
    { field: 'x', title: xTitle },
    ...(multi ? [{ field: 'series', title: 'series' }] : []),
    { field: 'mean', title: 'mean', format: '.2%' },
    { field: 'std', title: 'std', format: '.2%' },
    { field: 'n', title: 'chips' },
  ];
  const layer: Record<string, unknown>[] = [];
  if (multi) {
    const order = [...new Set(points.map((p) => p.series ?? ''))];
    const color = {
      field: 'series',
      type: 'nominal',
      title: null,
      sort: order,
      scale: { domain: order, range: PALETTE.slice(0, order.length) },
      legend: order.length > 3 ? { columns: 3 } : {},
    };
    layer.push(
      {
        mark: { type: 'area', opacity: 0.15 },
        encoding: { x, y: { field: 'sdLo', type: 'quantitative', ...accAxis(opts.yTitle) }, y2: { field: 'sdHi' }, color },
      },
      { mark: { type: 'line', point: true, strokeWidth: 2 }, encoding: { x, y, color, tooltip } },
    );
  } else {
    const names = ['mean', 'mean ± std', 'middle 95% of chips', 'one chip'];
    // Opaque, pre-mixed colours: the legend then shows what the plot shows.
    const color = (d: string) => ({
      datum: d,
      type: 'nominal',
      scale: { domain: names, range: ['#1f4e9c', '#a9bfe0', '#dde6f3', '#777'] },
      title: null,
    });
    if (rows.some((r) => r.lo !== undefined))
      layer.push({
        mark: { type: 'area' },
        encoding: { x, y: { field: 'lo', type: 'quantitative', ...accAxis(opts.yTitle) }, y2: { field: 'hi' }, color: color(names[2]) },
      });
    layer.push({
      mark: { type: 'area' },
      encoding: { x, y: { field: 'sdLo', type: 'quantitative', ...accAxis(opts.yTitle) }, y2: { field: 'sdHi' }, color: color(names[1]) },
    });
    if (chips.length)
      layer.push({
        data: { values: chips },
        mark: { type: 'circle', size: 12, opacity: 0.5 },
        encoding: { x, y: { field: 'acc', type: 'quantitative', ...accAxis(opts.yTitle) }, color: color(names[3]) },
      });
    layer.push({ mark: { type: 'line', point: true, strokeWidth: 2 }, encoding: { x, y, color: color(names[0]), tooltip } });
  }
  if (opts.reference !== undefined)
    layer.push({
      data: { values: [{ ref: opts.reference }] },
      mark: { type: 'rule', strokeDash: [4, 4], color: GREY },
      encoding: { y: { field: 'ref', type: 'quantitative' } },
    });
  return top(title, { width: WIDTH, height: HEIGHT, data: { values: rows }, layer });
}

/**
 * Accuracy per category (defect pattern, layer, method): a bar of the mean, an error bar of
 * +- std, and one tick per chip.
 */
export function categoryPlot(title: string, xTitle: string, points: SeriesPoint[]): TopLevelSpec {
  const rows = bandRows(points);
  const chips = chipRows(points);
  const order = points.map((p) => String(p.x));
  const x = {
    field: 'x',
    type: 'nominal',
    title: xTitle,
    sort: order,
    scale: { paddingInner: 0.35 },
    axis: { labelAngle: order.some((o) => o.length > 8) ? -30 : 0, labelLimit: 220 },
  };
  const layer: Record<string, unknown>[] = [
    {
      mark: { type: 'bar', color: '#9db7dc' },
      encoding: {
        x,
        y: { field: 'mean', type: 'quantitative', ...accAxis() },
        tooltip: [
          { field: 'x', title: xTitle },
          { field: 'mean', title: 'mean', format: '.2%' },
          { field: 'std', title: 'std', format: '.2%' },
          { field: 'n', title: 'chips' },
        ],
      },
    },
    {
      mark: { type: 'rule', color: BLUE, strokeWidth: 2 },
      encoding: { x, y: { field: 'sdLo', type: 'quantitative' }, y2: { field: 'sdHi' } },
    },
  ];
  if (chips.length)
    layer.push({
      data: { values: chips },
      mark: { type: 'circle', size: 14, color: GREY, opacity: 0.4 },
      encoding: { x, y: { field: 'acc', type: 'quantitative' } },
    });
  layer.push({
    mark: { type: 'text', dy: -8, fontSize: 10, color: '#222' },
    encoding: { x, y: { field: 'sdHi', type: 'quantitative' }, text: { field: 'mean', type: 'quantitative', format: '.1%' } },
  });
  return top(title, { width: Math.max(WIDTH, 46 * order.length), height: HEIGHT, data: { values: rows }, layer });
}

/** How the chips' accuracies spread: a histogram with the mean marked. */
export function histogramPlot(title: string, values: number[]): TopLevelSpec {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return top(title, {
    width: WIDTH,
    height: 200,
    layer: [
      {
        data: { values: values.map((acc) => ({ acc })) },
        mark: { type: 'bar', color: '#9db7dc', stroke: BLUE, strokeWidth: 0.5 },
        encoding: {
          x: { field: 'acc', type: 'quantitative', bin: { maxbins: 30 }, title: 'accuracy of one chip', axis: { format: '.0%' } },
          y: { aggregate: 'count', type: 'quantitative', title: 'chips', axis: { tickMinStep: 1, format: 'd' } },
        },
      },
      {
        data: { values: [{ mean }] },
        mark: { type: 'rule', color: ORANGE, strokeWidth: 2 },
        encoding: { x: { field: 'mean', type: 'quantitative' }, tooltip: [{ field: 'mean', format: '.2%' }] },
      },
    ],
  });
}

export interface GroupedBar {
  /** Category on the x axis (defect type, sigma, chip). */
  group: string;
  /** Bar within the group (before/after, method, engine). */
  bar: string;
  stat: Stat;
}

/**
 * Grouped bars with +- std error bars: before/after a corrector, methods at each sigma,
 * behavioural against SPICE. `percent` false plots raw values (errors, seconds) on a log axis if `log`.
 */
export function groupedBars(
  title: string,
  xTitle: string,
  bars: GroupedBar[],
  opts: { percent?: boolean; yTitle?: string; log?: boolean; barOrder?: string[]; reference?: number } = {},
): TopLevelSpec {
  const percent = opts.percent ?? true;
  const groups = [...new Set(bars.map((b) => b.group))];
  const barOrder = opts.barOrder ?? [...new Set(bars.map((b) => b.bar))];
  const rows = bars.map((b) => ({
    group: b.group,
    bar: b.bar,
    mean: b.stat.mean,
    lo: b.stat.std !== undefined ? b.stat.mean - b.stat.std : null,
    hi: b.stat.std !== undefined ? b.stat.mean + b.stat.std : null,
    std: b.stat.std ?? null,
  }));
  const x = {
    field: 'group',
    type: 'nominal',
    title: xTitle,
    sort: groups,
    axis: { labelAngle: groups.some((g) => g.length > 8) ? -30 : 0, labelLimit: 200 },
  };
  const xOffset = { field: 'bar', type: 'nominal', sort: barOrder };
  const yScale = opts.log ? { type: 'log' } : percent ? { domain: [0, 1] } : {};
  // Bars on a log axis start at the power of ten below the smallest value, not at zero.
  const positive = rows.map((r) => r.mean).filter((v) => v > 0);
  const base = opts.log && positive.length ? 10 ** Math.floor(Math.log10(Math.min(...positive))) : 0;
  const y = {
    field: 'mean',
    type: 'quantitative',
    title: opts.yTitle ?? (percent ? 'accuracy' : 'value'),
    axis: percent ? { format: '.0%' } : {},
    scale: yScale,
  };
  const color = {
    field: 'bar',
    type: 'nominal',
    title: null,
    sort: barOrder,
    scale: { domain: barOrder, range: PALETTE.slice(0, Math.max(1, barOrder.length)) },
    legend: barOrder.length > 3 ? { columns: 3 } : {},
  };
  const layer: Record<string, unknown>[] = [
    {
      mark: { type: 'bar' },
      encoding: {
        x,
        xOffset,
        y,
        ...(opts.log ? { y2: { datum: base } } : {}),
        color,
        tooltip: [
          { field: 'group', title: xTitle },
          { field: 'bar', title: 'series' },
          { field: 'mean', title: 'mean', format: percent ? '.2%' : '.4g' },
          { field: 'std', title: 'std', format: percent ? '.2%' : '.4g' },
        ],
      },
    },
  ];
  if (rows.some((r) => r.std !== null) && !opts.log)
    layer.push({
      transform: [{ filter: 'datum.std !== null' }],
      mark: { type: 'rule', color: '#222' },
      encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
    });
  if (opts.reference !== undefined)
    layer.push({
      data: { values: [{ ref: opts.reference }] },
      mark: { type: 'rule', strokeDash: [4, 4], color: GREY },
      encoding: { y: { field: 'ref', type: 'quantitative' } },
    });
  const width =
    groups.length <= 2 ? 120 + 60 * groups.length * barOrder.length : Math.max(WIDTH, groups.length * Math.max(40, 18 * barOrder.length));
  return top(title, { width, height: HEIGHT, data: { values: rows }, layer });
}

/** A plain line plot of (x, y) per series: training curves, accuracy against corrector size. */
export function linePlot(
  title: string,
  xTitle: string,
  yTitle: string,
  points: { x: number; y: number; series?: string }[],
  opts: { percent?: boolean; logX?: boolean; ruleX?: { at: number; label: string } } = {},
): TopLevelSpec {
  const multi = new Set(points.map((p) => p.series ?? '')).size > 1;
  const layer: Record<string, unknown>[] = [
    {
      mark: { type: 'line', point: points.length <= 60, strokeWidth: 2, ...(multi ? {} : { color: BLUE }) },
      encoding: {
        x: { field: 'x', type: 'quantitative', title: xTitle, scale: opts.logX ? { type: 'log' } : { zero: false } },
        y: {
          field: 'y',
          type: 'quantitative',
          title: yTitle,
          ...(opts.percent ? { axis: { format: '.0%' }, scale: { domain: [0, 1] } } : { axis: { format: '.3~g' }, scale: { zero: false } }),
        },
        ...(multi ? { color: { field: 'series', type: 'nominal', title: null } } : {}),
        tooltip: [
          { field: 'x', title: xTitle },
          { field: 'y', title: yTitle, format: opts.percent ? '.2%' : '.4g' },
        ],
      },
    },
  ];
  if (opts.ruleX)
    layer.push({
      data: { values: [{ at: opts.ruleX.at, label: opts.ruleX.label }] },
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 4], color: GREY }, encoding: { x: { field: 'at', type: 'quantitative' } } },
        {
          mark: { type: 'text', align: 'left', dx: 4, y: 8, fontSize: 10, color: GREY },
          encoding: { x: { field: 'at', type: 'quantitative' }, text: { field: 'label' } },
        },
      ],
    });
  return top(title, { width: WIDTH, height: HEIGHT, data: { values: points.map((p) => ({ ...p, series: p.series ?? '' })) }, layer });
}

/** x against y, one dot per item, with the y = x diagonal: before/after per chip, SPICE against behavioural. */
export function scatterPlot(
  title: string,
  xTitle: string,
  yTitle: string,
  points: { x: number; y: number; label?: string; series?: string }[],
  opts: { percent?: boolean; yPercent?: boolean; diagonal?: boolean } = {},
): TopLevelSpec {
  const fmtAxis = opts.percent ? { axis: { format: '.0%' } } : {};
  const yAxis = opts.percent || opts.yPercent ? { axis: { format: '.0%' } } : {};
  const lo = Math.min(...points.map((p) => Math.min(p.x, p.y)));
  const hi = Math.max(...points.map((p) => Math.max(p.x, p.y)));
  const domain = opts.percent ? [0, 1] : [lo, hi];
  const multi = new Set(points.map((p) => p.series ?? '')).size > 1;
  const layer: Record<string, unknown>[] = [];
  if (opts.diagonal)
    layer.push({
      data: { values: [{ a: domain[0] }, { a: domain[1] }] },
      mark: { type: 'line', strokeDash: [4, 4], color: '#999' },
      encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'a', type: 'quantitative' } },
    });
  layer.push({
    mark: { type: 'circle', size: 28, opacity: 0.7, ...(multi ? {} : { color: BLUE }) },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle, scale: opts.diagonal ? { domain } : { zero: false }, ...fmtAxis },
      y: { field: 'y', type: 'quantitative', title: yTitle, scale: opts.diagonal ? { domain } : { zero: false }, ...yAxis },
      ...(multi ? { color: { field: 'series', type: 'nominal', title: null } } : {}),
      tooltip: [
        { field: 'label', title: 'item' },
        { field: 'x', title: xTitle, format: '.4g' },
        { field: 'y', title: yTitle, format: opts.percent || opts.yPercent ? '.2%' : '.4g' },
      ],
    },
  });
  return top(title, {
    width: 320,
    height: 320,
    data: { values: points.map((p) => ({ ...p, label: p.label ?? '', series: p.series ?? '' })) },
    layer,
  });
}

/** A matrix of values as a heat map with the value written in each cell (leave-one-out tables). */
export function matrixPlot(
  title: string,
  xTitle: string,
  yTitle: string,
  cells: { x: string; y: string; v: number }[],
  opts: { percent?: boolean } = {},
): TopLevelSpec {
  const xs = [...new Set(cells.map((c) => c.x))];
  const ys = [...new Set(cells.map((c) => c.y))];
  const f = opts.percent ? '.1%' : '.3g';
  return top(title, {
    width: Math.max(200, 56 * xs.length),
    height: Math.max(120, 28 * ys.length),
    data: { values: cells },
    encoding: {
      x: { field: 'x', type: 'nominal', title: xTitle, sort: xs, axis: { labelAngle: -30 } },
      y: { field: 'y', type: 'nominal', title: yTitle, sort: ys },
    },
    layer: [
      {
        mark: 'rect',
        encoding: {
          color: {
            field: 'v',
            type: 'quantitative',
            title: null,
            scale: { scheme: 'blues', ...(opts.percent ? { domain: [0, 1] } : {}) },
            legend: opts.percent ? { format: '.0%' } : {},
          },
          tooltip: [{ field: 'x' }, { field: 'y' }, { field: 'v', format: f }],
        },
      },
      {
        mark: { type: 'text', fontSize: 10 },
        encoding: {
          text: { field: 'v', type: 'quantitative', format: f },
          color: { condition: { test: opts.percent ? 'datum.v > 0.6' : 'false', value: 'white' }, value: 'black' },
        },
      },
    ],
  });
}

export interface HeatTile {
  /** Physical cell rectangle of one array, in layer cells (tiles side by side with a gap). */
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface HeatCell {
  x: number;
  y: number;
  /** Width and height in cells: 1 for single cells, the block size when binned. */
  w: number;
  h: number;
  kind?: string;
  /** Share of stuck cells in a binned block. */
  share?: number;
}

/**
 * A defect map as a heat map: the arrays of a layer in grey, each stuck cell coloured by its
 * kind (red stuck-on, blue stuck-off, amber stuck-at, as `xbar faults` draws them), or, for maps
 * with very many stuck cells, blocks shaded by the share of stuck cells.
 */
export function heatMapPlot(title: string | string[], tiles: HeatTile[], cells: HeatCell[], binned: boolean): TopLevelSpec {
  const W = Math.max(...tiles.map((t) => t.x1));
  const H = Math.max(...tiles.map((t) => t.y1));
  const cell = Math.max(0.5, Math.min(8, 300 / H, 420 / W));
  const x = {
    field: 'x',
    type: 'quantitative',
    title: 'physical column',
    scale: { domain: [0, W], nice: false, zero: true },
    axis: { tickCount: 4, grid: false },
  };
  const y = {
    field: 'y',
    type: 'quantitative',
    title: 'row',
    scale: { domain: [0, H], nice: false, reverse: true },
    axis: { tickCount: 4, grid: false },
  };
  const tileRows = tiles.map((t) => ({ x: t.x0, x2: t.x1, y: t.y0, y2: t.y1 }));
  const cellRows = cells.map((c) => ({ x: c.x, x2: c.x + c.w, y: c.y, y2: c.y + c.h, kind: c.kind ?? '', share: c.share ?? 0 }));
  const kinds = Object.keys(FAULT_COLORS);
  const color = binned
    ? {
        field: 'share',
        type: 'quantitative',
        title: 'stuck share',
        scale: { scheme: 'reds', domain: [0, Math.max(0.01, ...cells.map((c) => c.share ?? 0))] },
        legend: { format: '.0%' },
      }
    : { field: 'kind', type: 'nominal', title: null, scale: { domain: kinds, range: Object.values(FAULT_COLORS) } };
  return top(title, {
    width: Math.max(60, Math.round(W * cell)),
    height: Math.max(60, Math.round(H * cell)),
    config: { ...config, view: { stroke: null }, title: { ...config.title, fontSize: 11, fontWeight: 'normal' } },
    layer: [
      {
        data: { values: tileRows },
        mark: { type: 'rect', fill: '#f4f4f4', stroke: '#999', strokeWidth: 0.5 },
        encoding: { x, x2: { field: 'x2' }, y, y2: { field: 'y2' } },
      },
      {
        data: { values: cellRows.length ? cellRows : [{ x: 0, x2: 0, y: 0, y2: 0, kind: kinds[0], share: 0 }] },
        mark: { type: 'rect' },
        encoding: { x, x2: { field: 'x2' }, y, y2: { field: 'y2' }, color },
      },
    ],
  });
}

/** Stacked bars: one bar per group (stage), one coloured segment per part (energy or area breakdowns). */
export function stackedBars(
  title: string,
  xTitle: string,
  yTitle: string,
  segments: { group: string; part: string; value: number }[],
  opts: { partOrder?: string[]; format?: string } = {},
): TopLevelSpec {
  const groups = [...new Set(segments.map((s) => s.group))];
  const parts = opts.partOrder ?? [...new Set(segments.map((s) => s.part))];
  const order = Object.fromEntries(parts.map((p, i) => [p, i]));
  return top(title, {
    width: Math.max(WIDTH, groups.length * 48),
    height: HEIGHT,
    data: { values: segments.map((s) => ({ ...s, order: order[s.part] ?? parts.length })) },
    mark: { type: 'bar' },
    encoding: {
      x: {
        field: 'group',
        type: 'nominal',
        title: xTitle,
        sort: groups,
        axis: { labelAngle: groups.some((g) => g.length > 8) ? -30 : 0, labelLimit: 200 },
      },
      y: { field: 'value', type: 'quantitative', title: yTitle, stack: 'zero' },
      color: { field: 'part', type: 'nominal', title: null, sort: parts, scale: { domain: parts, range: PALETTE.slice(0, parts.length) } },
      order: { field: 'order', type: 'quantitative' },
      tooltip: [
        { field: 'group', title: xTitle },
        { field: 'part', title: 'part' },
        { field: 'value', title: yTitle, format: opts.format ?? '.4g' },
      ],
    },
  });
}
