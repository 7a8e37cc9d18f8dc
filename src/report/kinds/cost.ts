import { eng, mm2 } from '../../cost/format.js';
import { AREA_PARTS, ENERGY_PARTS } from '../../cost/model.js';
import { stackedBars } from '../plots.js';
import type { BuildContext, Plot, ReportKind, ResultInput, Section, Table } from '../types.js';
import { Fields, fmt, isNum, isObj, type Json } from '../util.js';

/** `xbar-cost`: the result of `xbar cost --out`: energy, latency and area per stage and in total. */

export const COST_REPORT_FORMAT = 'xbar-cost';

export interface CostRow {
  name: string;
  arrays: number;
  reads: number;
  macs: number;
  energy: Record<string, number>;
  energyTotal: number;
  latency: number;
  area: Record<string, number>;
  areaTotal: number;
}

export interface CostData {
  model: string;
  dataset: string;
  trained: boolean;
  conductances: string;
  activity: string;
  tech: string;
  device: Json;
  circuit: Json;
  rows: CostRow[];
  energy: Record<string, number>;
  energyTotal: number;
  latency: number;
  pipelineInterval: number;
  areaTotal: number;
  area: Record<string, number>;
  topsPerWatt: number;
  xbarVersion: string;
}

function parts(f: Fields, v: unknown, keys: readonly string[], at: string): Record<string, number> {
  const o = f.obj(v, at);
  return Object.fromEntries(keys.map((k) => [k, isNum(o[k]) ? o[k] : 0]));
}

/** Reads the cost section of a result (also used for the `cost` fields other results carry). */
export function extractCostBody(f: Fields, c: Json, at: string) {
  const rows = f.arr(c.rows, `${at}.rows`).map((rIn, i) => {
    const r = f.obj(rIn, `${at}.rows[${i}]`);
    return {
      name: f.str(r.name, `${at}.rows[${i}].name`),
      arrays: isNum(r.arrays) ? r.arrays : 0,
      reads: isNum(r.reads) ? r.reads : 0,
      macs: isNum(r.macs) ? r.macs : 0,
      energy: parts(f, r.energy, ENERGY_PARTS, `${at}.rows[${i}].energy`),
      energyTotal: f.num(r.energyTotal, `${at}.rows[${i}].energyTotal`),
      latency: f.num(r.latency, `${at}.rows[${i}].latency`),
      area: parts(f, r.area, AREA_PARTS, `${at}.rows[${i}].area`),
      areaTotal: f.num(r.areaTotal, `${at}.rows[${i}].areaTotal`),
    };
  });
  return {
    rows,
    energy: parts(f, c.energy, ENERGY_PARTS, `${at}.energy`),
    energyTotal: f.num(c.energyTotal, `${at}.energyTotal`),
    latency: f.num(c.latency, `${at}.latency`),
    pipelineInterval: f.num(c.pipelineInterval, `${at}.pipelineInterval`),
    area: parts(f, c.area, AREA_PARTS, `${at}.area`),
    areaTotal: f.num(c.areaTotal, `${at}.areaTotal`),
    topsPerWatt: f.num(c.topsPerWatt, `${at}.topsPerWatt`),
  };
}

export function extractCost(input: ResultInput): CostData {
  const f = new Fields(input.file);
  const j = input.json;
  const body = extractCostBody(f, f.obj(j.cost, 'cost'), 'cost');
  const tech = isObj(j.tech) && typeof j.tech.name === 'string' ? j.tech.name : '';
  return {
    model: typeof j.model === 'string' ? j.model : '',
    dataset: typeof j.dataset === 'string' ? j.dataset : '',
    trained: j.trained !== false,
    conductances: typeof j.conductances === 'string' ? j.conductances : '',
    activity: typeof j.activity === 'string' ? j.activity : '',
    tech,
    device: isObj(j.device) ? j.device : {},
    circuit: isObj(j.circuit) ? j.circuit : {},
    xbarVersion: typeof j.xbarVersion === 'string' ? j.xbarVersion : '',
    ...body,
  };
}

/** The per-stage table of a cost (energy parts, latency, area). */
export function costTable(caption: string, d: Pick<CostData, 'rows' | 'energy' | 'energyTotal' | 'latency' | 'areaTotal'>): Table {
  const used = ENERGY_PARTS.filter((k) => d.energy[k] > 0);
  return {
    caption,
    columns: ['stage', 'arrays', 'reads', 'MACs', ...used.map((k) => `${k}`), 'energy', 'latency', 'area'],
    rows: [
      ...d.rows.map((r) => [
        r.name,
        fmt(r.arrays),
        fmt(r.reads),
        fmt(r.macs),
        ...used.map((k) => eng(r.energy[k], 'J')),
        eng(r.energyTotal, 'J'),
        eng(r.latency, 's'),
        mm2(r.areaTotal),
      ]),
      [
        'total',
        fmt(d.rows.reduce((a, r) => a + r.arrays, 0)),
        '',
        fmt(d.rows.reduce((a, r) => a + r.macs, 0)),
        ...used.map((k) => eng(d.energy[k], 'J')),
        eng(d.energyTotal, 'J'),
        eng(d.latency, 's'),
        mm2(d.areaTotal),
      ],
    ],
  };
}

/** Stacked energy (pJ) and area (mm^2) per stage, one segment per part. */
export function costPlots(d: Pick<CostData, 'rows' | 'energy' | 'area'>, what: string): Plot[] {
  const eParts = ENERGY_PARTS.filter((k) => d.energy[k] > 0);
  const aParts = AREA_PARTS.filter((k) => d.area[k] > 0);
  return [
    {
      id: 'energy-breakdown',
      title: 'Energy per inference by stage',
      caption: `Energy of one inference of ${what}, per stage (weighted layers and digital blocks), split into the cost model's terms (docs/cost.md).`,
      spec: stackedBars(
        'Energy per inference by stage',
        'stage',
        'energy (pJ)',
        d.rows.flatMap((r) => eParts.map((k) => ({ group: r.name, part: k, value: r.energy[k] * 1e12 }))),
        { partOrder: eParts },
      ),
    },
    {
      id: 'area-breakdown',
      title: 'Area by stage',
      caption: 'Silicon area per stage: whole physical arrays (cells) and their peripheral circuits.',
      spec: stackedBars(
        'Area by stage',
        'stage',
        'area (mm^2)',
        d.rows.flatMap((r) => aParts.map((k) => ({ group: r.name, part: k, value: r.area[k] * 1e6 }))),
        { partOrder: aParts },
      ),
    },
  ];
}

export const costKind: ReportKind<CostData> = {
  format: COST_REPORT_FORMAT,
  label: 'cost estimate',
  versions: [1],
  extract: extractCost,
  section(d: CostData, ctx: BuildContext): Section {
    const c = d.circuit;
    const facts: [string, string][] = [
      ['model', `${d.model}${d.trained ? '' : ' (untrained preset: initial weights)'}`],
      ['dataset (calibration)', d.dataset],
      ['device', fmt(d.device.name)],
      ['arrays', `${fmt(c.arrayRows)} x ${fmt(c.arrayCols)}`],
      ['DAC / ADC bits in the circuit', `${fmt(c.dacBits)} / ${fmt(c.adcBits)} (0 = analog: converters only at the network's edges)`],
      ['read voltage', `${fmt(c.vRead)} V`],
      ['conductances', d.conductances],
      ['word-line activity', d.activity],
      ['technology', d.tech],
      ['energy per inference', eng(d.energyTotal, 'J')],
      ['latency', `${eng(d.latency, 's')} (pipelined: one inference every ${eng(d.pipelineInterval, 's')})`],
      ['area', mm2(d.areaTotal)],
      ['efficiency', `${d.topsPerWatt.toPrecision(3)} TOPS/W`],
    ];
    if (d.xbarVersion) facts.push(['written by', `xbar ${d.xbarVersion}`]);
    return {
      id: ctx.id,
      format: COST_REPORT_FORMAT,
      title: `Cost: ${d.model || 'model'}`,
      file: '',
      facts,
      tables: [costTable('Energy, latency and area per inference, per stage', d)],
      plots: costPlots(d, d.model || 'the network'),
      notes: d.trained
        ? []
        : ['The model is an untrained preset: the conductances (and so the array read energy) are those of its initial weights.'],
      headline: `${eng(d.energyTotal, 'J')} and ${eng(d.latency, 's')} per inference, ${mm2(d.areaTotal)}, ${d.topsPerWatt.toPrecision(3)} TOPS/W`,
    };
  },
};

/**
 * The fact line of a recovery method's hardware cost (the `hardwareCost` field `xbar correct` and
 * `xbar correctnet` write: src/cost/recovery.ts), or none when the result has no such field.
 */
export function hardwareFact(v: unknown, label: string): [string, string][] {
  if (!isObj(v) || !isObj(v.overhead) || !isObj(v.base)) return [];
  const o = v.overhead;
  if (!isNum(o.energy) || !isNum(o.latency) || !isNum(v.base.energy)) return [];
  const share = (x: unknown) => (isNum(x) ? ` (+${(100 * x).toFixed(1)}%)` : '');
  return [
    [
      label,
      `+${eng(o.energy, 'J')}${share(o.energyShare)} energy, +${eng(o.latency, 's')}${share(o.latencyShare)} latency${isNum(o.area) ? `, +${mm2(o.area)}${share(o.areaShare)} area` : ''} per inference over the mapped network's ${eng(v.base.energy, 'J')} (docs/cost.md)`,
    ],
  ];
}
