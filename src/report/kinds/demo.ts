import { z } from 'zod';
import { XbarError } from '../../core/errors.js';
import { formatIssues } from '../../nn/spec.js';
import { categoryPlot, type GroupedBar, groupedBars, scatterPlot } from '../plots.js';
import type { BuildContext, Plot, ReportKind, ResultInput, Section, Table } from '../types.js';
import { type Stat, slug } from '../util.js';
import { extractFaultMap, faultMapPlot, type LayerMap } from './fault-map.js';

/**
 * `xbar-demo`: the main job (`npm start`): one network's software accuracy, its chips damaged by
 * variation and by spatial defects, and each chip again after each recovery method. The writer
 * is src/study/demo.ts; the terminal table `xbar demo` prints is demoTable below, the report's
 * first table, so the two cannot disagree.
 */
export const DEMO_FORMAT = 'xbar-demo';

const acc = z.number().min(0).max(1);
const METHODS = ['corrector', 'compensation'] as const;
const METHOD_LABEL: Record<(typeof METHODS)[number], string> = {
  corrector: 'calibrated learned corrector',
  compensation: 'per-chip calibrated compensation',
};
const chipSchema = z.object({
  chip: z.number().int().min(0),
  type: z.string(),
  faults: z.string(),
  damaged: acc,
  recovered: z.object({ corrector: acc.optional(), compensation: acc.optional() }),
});
const demoSchema = z.object({
  format: z.literal(DEMO_FORMAT),
  version: z.literal(1),
  dataset: z.string(),
  parameters: z.number().int().positive(),
  software: acc,
  testImages: z.number().int().positive(),
  config: z
    .object({ chips: z.number().int().positive(), seed: z.number().int(), device: z.string(), sigma: z.number().min(0) })
    .passthrough(),
  scenarios: z.array(z.object({ id: z.string(), label: z.string(), chips: z.array(chipSchema).min(1) }).passthrough()).min(1),
  costs: z.record(
    z.string(),
    z.object({ name: z.string(), parameters: z.number(), macs: z.number(), paramsShare: z.number(), macsShare: z.number() }),
  ),
  seconds: z.record(z.string(), z.number()).optional(),
});

type DemoChip = z.infer<typeof chipSchema>;
export interface DemoData {
  file: string;
  dataset: string;
  parameters: number;
  software: number;
  testImages: number;
  config: z.infer<typeof demoSchema>['config'];
  scenarios: { id: string; label: string; chips: DemoChip[] }[];
  costs: z.infer<typeof demoSchema>['costs'];
  seconds: Record<string, number>;
  maps: { type: string; map: LayerMap }[];
}

export function extractDemo(input: ResultInput): DemoData {
  const r = demoSchema.safeParse(input.json);
  if (!r.success) throw new XbarError(`${input.file}: not a valid ${DEMO_FORMAT} result (${formatIssues(r.error)}): re-run xbar demo`);
  const d = r.data;
  const maps = input.maps.filter((m) => !m.error).map((m) => ({ type: m.point, map: extractFaultMap(m.json, m.path) }));
  return {
    file: input.file,
    dataset: d.dataset,
    parameters: d.parameters,
    software: d.software,
    testImages: d.testImages,
    config: d.config,
    scenarios: d.scenarios.map((s) => ({ id: s.id, label: s.label, chips: s.chips })),
    costs: d.costs,
    seconds: d.seconds ?? {},
    maps,
  };
}

const statOf = (values: number[]): Stat => {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values), n, values };
};
const pctStd = (s: Stat) => `${(100 * s.mean).toFixed(2)}% +- ${(100 * (s.std ?? 0)).toFixed(2)}`;

/** Methods run on every chip of a scenario. */
const methodsOf = (chips: DemoChip[]) => METHODS.filter((m) => chips.every((c) => c.recovered[m] !== undefined));

/**
 * The summary, one row per scenario and method: software, damaged, recovered (mean +- std over
 * the chips) and the share of the software accuracy kept. `xbar demo` prints exactly this table.
 */
export function demoTable(d: Pick<DemoData, 'software' | 'scenarios'>): Table {
  const rows: string[][] = [];
  for (const s of d.scenarios) {
    const damaged = statOf(s.chips.map((c) => c.damaged));
    for (const m of methodsOf(s.chips)) {
      const rec = statOf(s.chips.map((c) => c.recovered[m] as number));
      rows.push([
        s.label,
        String(s.chips.length),
        `${(100 * d.software).toFixed(2)}%`,
        pctStd(damaged),
        pctStd(rec),
        `${((100 * rec.mean) / d.software).toFixed(1)}%`,
        METHOD_LABEL[m],
      ]);
    }
  }
  return {
    caption: 'Accuracy on the test set: software, damaged chips and the same chips recovered (mean +- std over chips, percentage points)',
    columns: ['damage', 'chips', 'software', 'damaged', 'recovered', 'of software', 'method'],
    rows,
  };
}

/** Per damage type (variation, each defect pattern): chips, damaged and recovered means. */
function typeTable(d: DemoData): Table {
  const rows: string[][] = [];
  for (const [type, chips] of byType(d)) {
    const methods = methodsOf(chips);
    rows.push([
      type,
      String(chips.length),
      `${(100 * statOf(chips.map((c) => c.damaged)).mean).toFixed(2)}%`,
      ...METHODS.map((m) => (methods.includes(m) ? `${(100 * statOf(chips.map((c) => c.recovered[m] as number)).mean).toFixed(2)}%` : '')),
    ]);
  }
  return {
    caption: 'Mean accuracy per damage type',
    columns: ['damage type', 'chips', 'damaged', ...METHODS.map((m) => METHOD_LABEL[m])],
    rows,
  };
}

function byType(d: DemoData): Map<string, DemoChip[]> {
  const out = new Map<string, DemoChip[]>();
  for (const s of d.scenarios)
    for (const c of s.chips) {
      const list = out.get(c.type) ?? [];
      list.push(c);
      out.set(c.type, list);
    }
  return out;
}

function demoPlots(d: DemoData, maxMaps: number): Plot[] {
  const bars: GroupedBar[] = [];
  for (const [type, chips] of byType(d)) {
    bars.push({ group: type, bar: 'damaged', stat: statOf(chips.map((c) => c.damaged)) });
    for (const m of methodsOf(chips))
      bars.push({ group: type, bar: METHOD_LABEL[m], stat: statOf(chips.map((c) => c.recovered[m] as number)) });
  }
  const spread = d.scenarios.flatMap((s) => [
    { x: `${s.id}: damaged`, stat: statOf(s.chips.map((c) => c.damaged)) },
    ...methodsOf(s.chips).map((m) => ({ x: `${s.id}: ${m}`, stat: statOf(s.chips.map((c) => c.recovered[m] as number)) })),
  ]);
  const perChip = d.scenarios.flatMap((s) =>
    methodsOf(s.chips).flatMap((m) =>
      s.chips.map((c) => ({
        x: c.damaged,
        y: c.recovered[m] as number,
        label: `${s.id} chip ${c.chip} (${c.type})`,
        series: `${s.id}, ${m}`,
      })),
    ),
  );
  const plots: Plot[] = [
    {
      id: 'by-type',
      title: 'Before and after recovery, per damage type',
      caption: `Mean accuracy of the chips of each damage type, damaged and after each method (error bars +- std). Software: ${(100 * d.software).toFixed(2)}%.`,
      spec: groupedBars('Accuracy per damage type', 'damage type', bars, { reference: d.software }),
    },
    {
      id: 'spread',
      title: "The chips' spread",
      caption: 'One dot per chip; bars are means, lines +- std.',
      spec: categoryPlot("The chips' spread", 'scenario: state', spread),
    },
    {
      id: 'per-chip',
      title: 'Each chip, damaged against recovered',
      caption: 'Above the diagonal: the method helped that chip.',
      spec: scatterPlot('Per chip: damaged vs recovered', 'damaged accuracy', 'recovered accuracy', perChip, {
        percent: true,
        diagonal: true,
      }),
    },
  ];
  d.maps.slice(0, maxMaps).forEach((m, i) => {
    plots.push(faultMapPlot(m.map, `map-${i + 1}-${slug(m.type)}`, { point: m.type }));
  });
  return plots;
}

export const demoKind: ReportKind<DemoData> = {
  format: DEMO_FORMAT,
  label: 'main job: damage and recovery',
  versions: [1],
  extract: extractDemo,
  section(d: DemoData, ctx: BuildContext): Section {
    const facts: [string, string][] = [
      ['network', `mlp-paper, ${d.parameters} parameters, on ${d.dataset}`],
      ['software accuracy', `${(100 * d.software).toFixed(2)}% on ${d.testImages} test images`],
      ['device', `${d.config.device}; variation scenario sigma ${d.config.sigma}, defect scenario sigma 0`],
      ['chips per scenario', String(d.config.chips)],
      ['seed', String(d.config.seed)],
      ...Object.entries(d.costs).map(([m, c]): [string, string] => [
        `${METHOD_LABEL[m as (typeof METHODS)[number]] ?? m} cost`,
        `${c.name}: ${c.parameters} parameters (${(100 * c.paramsShare).toFixed(1)}% of the network), ${c.macs} multiply-adds (${(100 * c.macsShare).toFixed(1)}%)`,
      ]),
    ];
    const total = Object.values(d.seconds).reduce((a, b) => a + b, 0);
    if (total)
      facts.push([
        'seconds',
        Object.entries(d.seconds)
          .map(([k, v]) => `${k} ${v.toFixed(1)}`)
          .join(', '),
      ]);
    const defects = d.scenarios.find((s) => s.id === 'defects');
    const best = defects && methodsOf(defects.chips)[0];
    return {
      id: ctx.id,
      format: DEMO_FORMAT,
      title: 'Damage and recovery (npm start)',
      file: d.file,
      facts,
      tables: [demoTable(d), typeTable(d)],
      plots: demoPlots(d, ctx.maxMaps),
      notes: d.maps.length ? [] : ['No defect maps beside this result (xbar demo writes them to maps/<defect type>/).'],
      headline:
        defects && best
          ? `defects: ${(100 * statOf(defects.chips.map((c) => c.damaged)).mean).toFixed(1)}% -> ${(100 * statOf(defects.chips.map((c) => c.recovered[best] as number)).mean).toFixed(1)}% (${best})`
          : `software ${(100 * d.software).toFixed(2)}%`,
    };
  },
};
