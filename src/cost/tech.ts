import { z } from 'zod';
import { XbarError } from '../core/errors.js';
import { formatIssues } from '../nn/spec.js';
import defaultTechFile from './tech/default.json' with { type: 'json' };

/**
 * The technology file: every constant the cost model uses, each with its unit and source. A
 * constant is either a plain number or { value, unit, source }; a user's file may give only the
 * constants it changes (the rest come from tech/default.json), and may not add unknown ones.
 */

const leaf = (check: z.ZodNumber) =>
  z.union([check, z.strictObject({ value: check, unit: z.string().optional(), source: z.string().optional() })]);
const pos = () => leaf(z.number().positive());
const nonneg = () => leaf(z.number().min(0));
const bits = () => leaf(z.number().int().min(1).max(24));

export const techSchema = z.strictObject({
  name: z.string().default('custom'),
  description: z.string().optional(),
  array: z.strictObject({
    readTime: pos(),
    featureSize: pos(),
    cellHeightF: pos(),
    cellWidthF: pos(),
    wireCapacitance: nonneg(),
  }),
  periphery: z.strictObject({ tiaPower: nonneg(), tiaArea: nonneg(), neuronPower: nonneg(), neuronArea: nonneg() }),
  adc: z.strictObject({
    walden: nonneg(),
    schreier: leaf(z.number().min(100).max(250)),
    sampleRate: pos(),
    area: nonneg(),
    areaBits: bits(),
    columnsPerAdc: leaf(z.number().int().min(1)),
  }),
  dac: z.strictObject({ walden: nonneg(), sampleRate: pos(), area: nonneg(), areaBits: bits() }),
  io: z.strictObject({ bits: bits() }),
  digital: z.strictObject({
    macEnergy: nonneg(),
    addEnergy: nonneg(),
    sramEnergyPerBit: nonneg(),
    weightBits: bits(),
    clock: pos(),
    macsPerCycle: leaf(z.number().int().min(1)),
    macArea: nonneg(),
    sramAreaPerBit: nonneg(),
  }),
  movement: z.strictObject({ bufferEnergyPerBit: nonneg() }),
});

type TechParsed = z.output<typeof techSchema>;
type Group = Exclude<keyof TechParsed, 'name' | 'description'>;
type Numbers<T> = { [K in keyof T]: number };

/** The constants as plain numbers (SI units), plus where each came from. */
export type Tech = { name: string } & { [G in Group]: Numbers<TechParsed[G]> } & {
  /** 'group.key' -> source text (or 'user file' for a bare number). */
  sources: Record<string, string>;
  units: Record<string, string>;
};

export type TechInput = z.input<typeof techSchema>;

export const defaultTechInput = defaultTechFile as TechInput;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** user over base: groups merge key by key; a bare number replaces the value and drops the old source. */
function merge(base: Record<string, unknown>, user: Record<string, unknown>, source: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(user)) {
    const b = base[k];
    if (isPlainObject(b) && isPlainObject(v) && !('value' in b)) out[k] = merge(b, v, source);
    else if (typeof v === 'number' && isPlainObject(b) && 'value' in b) out[k] = { value: v, unit: b.unit, source };
    else out[k] = v;
  }
  return out;
}

/** Validates a technology file (partial: what it omits comes from the defaults); one readable error line. */
export function resolveTech(input: unknown = {}, source = 'technology file'): Tech {
  if (!isPlainObject(input))
    throw new XbarError(`invalid ${source}: expected a JSON object of constant groups (see src/cost/tech/default.json)`);
  const merged = merge(defaultTechInput as Record<string, unknown>, input, source);
  if (input.name === undefined) merged.name = Object.keys(input).length ? `default + ${source}` : 'default';
  const r = techSchema.safeParse(merged);
  if (!r.success) throw new XbarError(`invalid ${source}: ${formatIssues(r.error)}`);
  const sources: Record<string, string> = {};
  const units: Record<string, string> = {};
  const groups = {} as Record<string, Record<string, number>>;
  for (const [g, obj] of Object.entries(r.data)) {
    if (!isPlainObject(obj)) continue;
    groups[g] = {};
    for (const [k, v] of Object.entries(obj)) {
      const val = typeof v === 'number' ? v : (v as { value: number }).value;
      groups[g][k] = val;
      sources[`${g}.${k}`] = typeof v === 'number' ? source : ((v as { source?: string }).source ?? source);
      units[`${g}.${k}`] = typeof v === 'number' ? '' : ((v as { unit?: string }).unit ?? '');
    }
  }
  return { name: r.data.name, ...(groups as unknown as { [G in Group]: Numbers<TechParsed[G]> }), sources, units };
}

export const defaultTech = (): Tech => resolveTech({});

/** Every constant with its unit and source, for the result file. */
export function techConstants(tech: Tech): Record<string, { value: number; unit: string; source: string }> {
  const out: Record<string, { value: number; unit: string; source: string }> = {};
  for (const key of Object.keys(tech.sources)) {
    const [g, k] = key.split('.');
    out[key] = {
      value: (tech as unknown as Record<string, Record<string, number>>)[g][k],
      unit: tech.units[key],
      source: tech.sources[key],
    };
  }
  return out;
}
