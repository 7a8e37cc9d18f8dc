import { z } from 'zod';
import { XbarError } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import { type FaultSpec, formatFaultSpec, type PatternSpec, patternSchema } from '../faults/index.js';

/**
 * A population of defective chips for the learned output corrector: every chip gets one spatial
 * defect pattern (its "defect type"), one kind of stuck cell, a density, a layer set and, with
 * `geometry: 'random'`, a random position and size of the pattern. Chip `i` of seed `s` always
 * gets the same defect (Rng.derive(s, i, STREAM_DEFECT)), whatever else is drawn.
 */
export const SPATIAL_PATTERNS = ['circle', 'circle-complement', 'ring', 'rows', 'columns', 'checkerboard'] as const;
export type SpatialPattern = (typeof SPATIAL_PATTERNS)[number];
export const FAULT_KINDS = ['stuck-on', 'stuck-off', 'stuck-at'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Random streams of the corrector, apart from programChip's (seed, chip, layer, 1|2) and runMonteCarlo's. */
export const STREAM_DEFECT = 2_000_001;
export const STREAM_IMAGES = 2_000_002;
export const STREAM_NOISE = 2_000_003;
export const STREAM_PROBES = 2_000_004;

const frac = z.number().min(0).max(1);
const range = z.tuple([frac, frac]).refine(([lo, hi]) => lo <= hi, { message: 'a range [lo, hi] needs lo <= hi' });
const weight = z.number().min(0);

export const populationSchema = z
  .strictObject({
    /** Defect types to draw from, uniformly. */
    patterns: z
      .array(z.enum(SPATIAL_PATTERNS))
      .min(1)
      .default([...SPATIAL_PATTERNS]),
    /** Relative weights of the stuck-cell kinds. */
    kinds: z.strictObject({ 'stuck-on': weight.default(1), 'stuck-off': weight.default(1), 'stuck-at': weight.default(1) }).prefault({}),
    /** Share of the pattern's region that is stuck, uniform in [lo, hi], per kind. */
    density: z
      .strictObject({
        'stuck-on': range.default([0.1, 0.3]),
        'stuck-off': range.default([0.4, 1]),
        'stuck-at': range.default([0.3, 0.8]),
      })
      .prefault({}),
    /** Where a stuck-at cell sits in Gmin..Gmax, uniform in [lo, hi]. */
    level: range.default([0.3, 0.9]),
    /** Layer sets (weighted layers, from 0), one drawn uniformly per chip; 'last' = the output layer, 'all' = every layer. */
    layers: z.union([z.enum(['last', 'all']), z.array(z.array(z.int().min(0)).min(1)).min(1)]).default('last'),
    /** 'random': centre, radius, band and block size drawn per chip (table in docs/corrector.md); 'fixed': the pattern defaults. */
    geometry: z.enum(['random', 'fixed']).default('random'),
  })
  .superRefine((p, ctx) => {
    if (FAULT_KINDS.every((k) => p.kinds[k] === 0)) ctx.addIssue({ code: 'custom', path: ['kinds'], message: 'every kind has weight 0' });
  });
export type Population = z.output<typeof populationSchema>;
export type PopulationInput = z.input<typeof populationSchema>;

function issues(e: z.ZodError): string {
  return e.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || 'value'}: ${i.message}`)
    .join('; ');
}

export function resolvePopulation(input: unknown, where = 'defect population'): Population {
  const r = populationSchema.safeParse(input ?? {});
  if (!r.success) throw new XbarError(`${where} is invalid: ${issues(r.error)}`);
  return r.data;
}

/** The layer sets of a population for a network with `nWeighted` weighted layers, checked. */
export function layerSets(pop: Population, nWeighted: number): number[][] {
  if (pop.layers === 'last') return [[nWeighted - 1]];
  if (pop.layers === 'all') return [Array.from({ length: nWeighted }, (_, i) => i)];
  for (const set of pop.layers)
    for (const l of set)
      if (l >= nWeighted)
        throw new XbarError(`defect layers name layer ${l}, but the model has weighted layers 0..${nWeighted - 1}: fix --layers`);
  return pop.layers.map((s) => [...new Set(s)].sort((a, b) => a - b));
}

/** The defect of one chip. */
export interface ChipDefect {
  chip: number;
  /** The population's pattern type, or 'custom' for a chip given a fault spec (customDefect). */
  type: SpatialPattern | 'custom';
  kind: FaultKind | 'mixed';
  layers: number[];
  density: number;
  spec: FaultSpec;
  /** The fault spec in xbar's text form (`xbar simulate --faults` takes it). */
  text: string;
}

/**
 * A chip given a fault spec rather than a population draw (`xbar correct eval --faults`): any
 * patterns, gradients, combinations, random faults or measured defect maps, so that a corrector
 * can be tested on defects of a shape it never saw. Random parts are drawn per chip as in simulate.
 */
export function customDefect(chip: number, spec: FaultSpec, nWeighted: number): ChipDefect {
  const layers = [...new Set(spec.flatMap((g) => (g.layers === 'all' ? Array.from({ length: nWeighted }, (_, i) => i) : g.layers)))].sort(
    (a, b) => a - b,
  );
  return { chip, type: 'custom', kind: 'mixed', layers, density: Number.NaN, spec, text: formatFaultSpec(spec) };
}

/** Draws chip `chip`'s defect from the population; every draw from Rng.derive(seed, chip, STREAM_DEFECT). */
export function drawDefect(pop: Population, nWeighted: number, seed: number, chip: number): ChipDefect {
  const sets = layerSets(pop, nWeighted);
  const r = Rng.derive(seed, chip, STREAM_DEFECT);
  const u = (lo: number, hi: number) => lo + (hi - lo) * r.uniform();
  const type = pop.patterns[r.int(pop.patterns.length)];
  const total = FAULT_KINDS.reduce((a, k) => a + pop.kinds[k], 0);
  let pick = r.uniform() * total;
  let kind: FaultKind = FAULT_KINDS[FAULT_KINDS.length - 1];
  for (const k of FAULT_KINDS) {
    if (pop.kinds[k] > 0 && pick < pop.kinds[k]) {
      kind = k;
      break;
    }
    pick -= pop.kinds[k];
  }
  while (pop.kinds[kind] === 0) kind = FAULT_KINDS[FAULT_KINDS.indexOf(kind) - 1]; // rounding at the top end
  const layers = sets[r.int(sets.length)];
  const density = u(...pop.density[kind]);
  const level = u(...pop.level);
  const geometry = pop.geometry === 'random' ? randomGeometry(type, u, r) : {};
  const pattern: PatternSpec = patternSchema.parse({
    pattern: type,
    ...geometry,
    density,
    kind,
    ...(kind === 'stuck-at' ? { level } : {}),
  });
  const spec: FaultSpec = [{ patterns: [pattern], layers }];
  return { chip, type, kind, layers, density, spec, text: formatFaultSpec(spec) };
}

/** Position and size of a pattern, drawn per chip (relative array coordinates, docs/faults.md). */
function randomGeometry(type: SpatialPattern, u: (lo: number, hi: number) => number, r: Rng): Record<string, number> {
  switch (type) {
    case 'circle':
      return { cx: u(0.3, 0.7), cy: u(0.3, 0.7), radius: u(0.15, 0.35) };
    case 'circle-complement':
      return { cx: u(0.4, 0.6), cy: u(0.4, 0.6), radius: u(0.45, 0.65) };
    case 'ring':
      return { cx: u(0.4, 0.6), cy: u(0.4, 0.6), radius: u(0.2, 0.4), width: u(0.05, 0.15) };
    case 'rows':
    case 'columns': {
      const from = u(0, 0.8);
      return { from, to: from + u(0.1, 0.2) };
    }
    case 'checkerboard':
      return { block: 1 + r.int(3) };
  }
}

/** The command-line form of a population: each flag replaces one field of the base (defaults or a JSON file). */
export interface PopulationFlags {
  patterns?: string;
  kinds?: string;
  density?: string;
  level?: string;
  layers?: string;
  geometry?: string;
}

/**
 * `--patterns circle,ring`, `--kinds stuck-on=2,stuck-at=1` (unlisted kinds get weight 0; a bare
 * name weighs 1), `--density stuck-on=0.05-0.2,stuck-at=0.3` (unlisted kinds keep theirs; one
 * value = a fixed density), `--level 0.3-0.9`, `--layers '3;2,3;1,2,3'` (sets separated by `;`) or
 * `last` or `all`, `--geometry random|fixed`.
 */
export function populationFromFlags(base: PopulationInput, f: PopulationFlags): Population {
  const p: Record<string, unknown> = { ...base };
  if (f.patterns !== undefined) p.patterns = list(f.patterns, '--patterns');
  if (f.kinds !== undefined) {
    const kinds: Record<string, number> = { 'stuck-on': 0, 'stuck-off': 0, 'stuck-at': 0 };
    for (const item of list(f.kinds, '--kinds')) {
      const [k, v] = item.split('=').map((s) => s.trim());
      if (!(FAULT_KINDS as readonly string[]).includes(k))
        throw new XbarError(`--kinds: '${k}' is not a kind: use ${FAULT_KINDS.join(', ')}, e.g. stuck-on=2,stuck-at=1`);
      kinds[k] = v === undefined ? 1 : num(v, `--kinds ${k}`);
    }
    p.kinds = kinds;
  }
  if (f.density !== undefined) {
    const d: Record<string, unknown> = { ...((base.density as Record<string, unknown>) ?? {}) };
    for (const item of list(f.density, '--density')) {
      const eq = item.indexOf('=');
      const k = item.slice(0, eq).trim();
      if (eq < 0 || !(FAULT_KINDS as readonly string[]).includes(k))
        throw new XbarError(`--density: '${item}' must look like stuck-on=0.1-0.3 (kinds: ${FAULT_KINDS.join(', ')})`);
      d[k] = rangeText(item.slice(eq + 1), `--density ${k}`);
    }
    p.density = d;
  }
  if (f.level !== undefined) p.level = rangeText(f.level, '--level');
  if (f.layers !== undefined) {
    const t = f.layers.trim();
    p.layers =
      t === 'last' || t === 'all'
        ? t
        : t
            .split(';')
            .filter((s) => s.trim())
            .map((set) =>
              list(set, '--layers').map((s) => {
                const n = Number(s);
                if (!Number.isInteger(n) || n < 0)
                  throw new XbarError(`--layers: '${s}' is not a layer index; write e.g. '3;2,3' or last or all`);
                return n;
              }),
            );
  }
  if (f.geometry !== undefined) p.geometry = f.geometry;
  return resolvePopulation(p, 'defect population (--patterns/--kinds/--density/--level/--layers/--geometry)');
}

function list(text: string, flag: string): string[] {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new XbarError(`${flag} is empty`);
  return items;
}

function num(v: string, what: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new XbarError(`${what}: '${v}' is not a number`);
  return n;
}

/** `0.1-0.3` or `0.2` (a fixed value). */
function rangeText(text: string, what: string): [number, number] {
  const parts = text.split('-');
  if (parts.length > 2) throw new XbarError(`${what}: '${text}' must be a number or a range lo-hi such as 0.1-0.3`);
  const lo = num(parts[0], what);
  return [lo, parts.length === 2 ? num(parts[1], what) : lo];
}

/** One line describing a population, for logs and reports. */
export function describePopulation(pop: Population): string {
  const kinds = FAULT_KINDS.filter((k) => pop.kinds[k] > 0)
    .map((k) => `${k} x${pop.kinds[k]} density ${pop.density[k][0]}-${pop.density[k][1]}`)
    .join(', ');
  const layers = typeof pop.layers === 'string' ? pop.layers : pop.layers.map((s) => s.join(',')).join(';');
  return `patterns ${pop.patterns.join(',')}; ${kinds}; stuck-at level ${pop.level[0]}-${pop.level[1]}; layers ${layers}; geometry ${pop.geometry}`;
}
