import { AREA_PARTS, ENERGY_PARTS, type NetworkCost } from './model.js';
import type { RecoveryCost } from './recovery.js';

/** Text forms of a cost: engineering units and the per-layer table `xbar cost` prints. */

const PREFIXES: [number, string][] = [
  [1e-15, 'f'],
  [1e-12, 'p'],
  [1e-9, 'n'],
  [1e-6, 'u'],
  [1e-3, 'm'],
  [1, ''],
];

/** 3 significant digits with an SI prefix: eng(1.234e-11, 'J') = '12.3 pJ'. */
export function eng(x: number, unit: string): string {
  if (x === 0) return `0 ${unit}`;
  if (!Number.isFinite(x)) return `${x} ${unit}`;
  const a = Math.abs(x);
  let [scale, p] = PREFIXES[0];
  for (const [s, q] of PREFIXES) if (a >= s * 0.9995) [scale, p] = [s, q];
  return `${(x / scale).toPrecision(3)} ${p}${unit}`;
}

export const mm2 = (m2: number): string => `${(m2 * 1e6).toPrecision(3)} mm^2`;

function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}

/** The per-layer table and the totals, as `xbar cost` prints them. */
export function costText(c: NetworkCost): string {
  const parts = ENERGY_PARTS.filter((k) => c.energy[k] > 0);
  const head = ['stage', 'arrays', 'reads', 'MACs', ...parts, 'energy', 'latency', 'area'];
  const rows = c.rows.map((r) => [
    r.name,
    String(r.arrays),
    String(r.reads),
    String(r.macs),
    ...parts.map((k) => eng(r.energy[k], 'J')),
    eng(r.energyTotal, 'J'),
    eng(r.latency, 's'),
    mm2(r.areaTotal),
  ]);
  rows.push([
    'total',
    String(c.rows.reduce((a, r) => a + r.arrays, 0)),
    '',
    String(c.macs + c.digitalMacs),
    ...parts.map((k) => eng(c.energy[k], 'J')),
    eng(c.energyTotal, 'J'),
    eng(c.latency, 's'),
    mm2(c.areaTotal),
  ]);
  const share = (x: number, t: number) => `${((100 * x) / (t || 1)).toFixed(1)}%`;
  const areaParts = AREA_PARTS.filter((k) => c.area[k] > 0)
    .map((k) => `${k} ${share(c.area[k], c.areaTotal)}`)
    .join(', ');
  return [
    table(head, rows),
    '',
    `energy per inference ${eng(c.energyTotal, 'J')} (${parts.map((k) => `${k} ${share(c.energy[k], c.energyTotal)}`).join(', ')})`,
    `latency ${eng(c.latency, 's')} per inference; pipelined across layers, one inference every ${eng(c.pipelineInterval, 's')}`,
    `area ${mm2(c.areaTotal)} (${areaParts})`,
    `${(2 * (c.macs + c.digitalMacs)).toLocaleString('en')} operations per inference: ${c.topsPerWatt.toPrecision(3)} TOPS/W`,
  ].join('\n');
}

/** '; on the chip +x J (+y%) and +z s (+w%) per inference' for a recovery method's cost, '' without one. */
export function hardwareText(c: RecoveryCost | null | undefined): string {
  if (!c) return '';
  const share = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
  return `; on the chip ${eng(c.overhead.energy, 'J')} (${share(c.overhead.energyShare)}) energy and ${eng(c.overhead.latency, 's')} (${share(c.overhead.latencyShare)}) latency added per inference`;
}
