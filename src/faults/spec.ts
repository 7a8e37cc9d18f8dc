import { z } from 'zod';
import { XbarError } from '../core/errors.js';
import type { ArrayMap } from './map-file.js';
import { type PatternSpec, patternNames, patternSchema } from './schema.js';

/**
 * Which patterns go on which weighted layers (0 = first dense/conv layer). Each array (tile) of
 * a chosen layer gets its own draw of the patterns.
 */
export const faultGroupSchema = z.strictObject({
  patterns: z.array(patternSchema).min(1),
  layers: z.union([z.literal('all'), z.array(z.int().min(0)).min(1)]).default('all'),
});
/**
 * A group places random patterns (`patterns`), or a measured defect-map file (`maps`, from
 * map-file.ts via faults/node.ts, with `patterns` empty): its arrays' cells exactly as measured.
 */
export type FaultGroup = z.output<typeof faultGroupSchema> & { maps?: { source: string; arrays: ArrayMap[] } };
export const faultSpecSchema = z.array(faultGroupSchema);
export type FaultSpec = FaultGroup[];

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
}

/** A fault spec from JSON (an array of {patterns, layers}, or one such object). */
export function faultSpecFromJSON(json: unknown, where = 'fault spec'): FaultSpec {
  const r = faultSpecSchema.safeParse(Array.isArray(json) ? json : [json]);
  if (!r.success) throw new XbarError(`${where} is invalid: ${issues(r.error)}`);
  return r.data;
}

/**
 * The text form: terms joined by `+`, each `pattern:key=value,...[@layers=0,2]`, for example
 * `random:sa0=0.0175,sa1=0.0904` or `circle:radius=0.3,kind=stuck-off@layers=0+rows:from=0.5,to=0.6`.
 * Keys are the pattern's parameters (docs/faults.md); `@layers` binds to its own term.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const spec: FaultSpec = [];
  for (const raw of text.split('+')) {
    const term = raw.trim();
    if (!term) throw new XbarError(`fault spec '${text}' has an empty term: terms are joined by '+'`);
    const [body, layerPart, extra] = term.split('@');
    if (extra !== undefined) throw new XbarError(`fault term '${term}' has more than one '@'`);
    const colon = body.indexOf(':');
    const name = (colon < 0 ? body : body.slice(0, colon)).trim();
    if (!patternNames.includes(name as PatternSpec['pattern']))
      throw new XbarError(`fault pattern '${name}' is unknown: use one of ${patternNames.join(', ')}`);
    const obj: Record<string, unknown> = { pattern: name };
    const params = colon < 0 ? '' : body.slice(colon + 1);
    for (const kv of params.split(',').filter((s) => s.trim())) {
      const [k, v] = kv.split('=').map((s) => s.trim());
      if (!k || v === undefined || v === '') throw new XbarError(`fault term '${term}': '${kv}' must look like key=value`);
      const key = k === 'stuck-at' ? 'stuckAt' : k;
      if (key in obj) throw new XbarError(`fault term '${term}' sets '${k}' twice`);
      obj[key] = key === 'kind' ? v : Number(v);
      if (key !== 'kind' && !Number.isFinite(obj[key])) throw new XbarError(`fault term '${term}': ${k}=${v} is not a number`);
    }
    const p = patternSchema.safeParse(obj);
    if (!p.success) throw new XbarError(`fault term '${term}': ${issues(p.error)}`);
    spec.push({ patterns: [p.data], layers: parseLayers(layerPart, term) });
  }
  return spec;
}

export function parseLayers(part: string | undefined, term: string): FaultGroup['layers'] {
  if (part === undefined) return 'all';
  const m = /^\s*layers\s*=\s*(.+)$/.exec(part);
  if (!m) throw new XbarError(`fault term '${term}': after '@' write layers=0,1 or layers=all`);
  if (m[1].trim() === 'all') return 'all';
  return m[1].split(',').map((s) => {
    const n = Number(s.trim());
    if (!Number.isInteger(n) || n < 0) throw new XbarError(`fault term '${term}': layer '${s}' is not a layer index (0, 1, ...)`);
    return n;
  });
}

/** The text form of a spec, listing every parameter, so that it parses back to the same spec. */
export function formatFaultSpec(spec: FaultSpec): string {
  return spec
    .flatMap((g) =>
      g.maps
        ? [`${g.maps.source}${g.layers === 'all' ? '' : `@layers=${g.layers.join(',')}`}`]
        : g.patterns.map((p) => {
            const { pattern, ...rest } = p;
            const params = Object.entries(rest).map(([k, v]) => `${k}=${v}`);
            return `${pattern}:${params.join(',')}${g.layers === 'all' ? '' : `@layers=${g.layers.join(',')}`}`;
          }),
    )
    .join('+');
}
