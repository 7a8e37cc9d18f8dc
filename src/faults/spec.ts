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
  if (Array.isArray(json) && !json.length)
    throw new XbarError(`${where} is empty ([]): to simulate without faults leave --faults out; otherwise list at least one group`);
  const r = faultSpecSchema.safeParse(Array.isArray(json) ? json : [json]);
  if (!r.success) throw new XbarError(`${where} is invalid: ${issues(r.error)}`);
  return r.data;
}

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** One `pattern:key=value,...` term, without any scope. */
function parseTerm(term: string): PatternSpec {
  const colon = term.indexOf(':');
  const name = (colon < 0 ? term : term.slice(0, colon)).trim();
  if (!patternNames.includes(name as PatternSpec['pattern']))
    throw new XbarError(`fault pattern '${name}' is unknown: use one of ${patternNames.join(', ')}`);
  const obj: Record<string, unknown> = { pattern: name };
  const params = colon < 0 ? '' : term.slice(colon + 1);
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
  return p.data;
}

/** `body@layers=...` split into the body and its scope (undefined without '@'). */
function splitScope(text: string): { body: string; layers: FaultGroup['layers'] | undefined } {
  const [body, layerPart, extra] = text.split('@');
  if (extra !== undefined) throw new XbarError(`fault term '${text}' has more than one '@'`);
  return { body: body.trim(), layers: layerPart === undefined ? undefined : parseLayers(layerPart, text) };
}

/** Splits on '+' outside brackets; each piece is a bare term or one bracketed group. */
function topLevelItems(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '[') {
      if (depth) throw new XbarError(`fault spec '${text}': brackets do not nest`);
      depth = 1;
    } else if (ch === ']') {
      if (!depth) throw new XbarError(`fault spec '${text}': ']' without its '['`);
      depth = 0;
    } else if (ch === '+' && !depth) {
      items.push(text.slice(from, i).trim());
      from = i + 1;
    }
  }
  if (depth) throw new XbarError(`fault spec '${text}': '[' without its ']'`);
  items.push(text.slice(from).trim());
  return items;
}

/** A measured defect-map file's name as a term of the text form (map-file.ts: .png, .csv, .json). */
export const MAP_FILE = /\.(png|csv|json)$/i;

/** Reads a defect-map file named in a spec into its arrays (faults/node.ts: readMapFile). */
export type MapReader = (path: string) => ArrayMap[];

type MapSource = NonNullable<FaultGroup['maps']>;

/**
 * The text form (docs/faults.md): terms joined by `+`, each `pattern:key=value,...` or a measured
 * defect-map file (`wafer.png`, read by `readMap`), for example `random:sa0=0.0175,sa1=0.0904` or
 * `wafer.csv+random:sa1=0.001`. Scopes, so that a spec means what it appears to:
 * - one `@layers=...` at the end scopes the **whole spec**:
 *   `ring:radius=0.3+columns:from=0.5,to=0.6@layers=1,2` puts both on layers 1 and 2;
 * - a bracketed group has its own scope: `[ring:radius=0.3@layers=0]+columns:from=0.5,to=0.6`
 *   puts the ring on layer 0 and the columns on every layer;
 * - a term's `@layers` followed by `+` (`circle@layers=0+rows`) can only be that term's own and
 *   keeps that meaning, but together with a spec-wide scope over other terms
 *   (`circle@layers=0+rows+columns@layers=2`) it is ambiguous and refused.
 */
export function parseFaultSpec(text: string, readMap?: MapReader): FaultSpec {
  if (typeof text !== 'string')
    throw new XbarError(`a fault spec is text such as 'random:sa1=0.01' (docs/faults.md), not ${describe(text)}`);
  if (!text.trim())
    throw new XbarError(`the fault spec is empty: to simulate without faults leave --faults out; otherwise write e.g. 'random:sa1=0.01'`);
  const items = topLevelItems(text);
  type Item = { patterns: PatternSpec[]; maps: MapSource[]; layers: FaultGroup['layers'] | undefined; bracketed: boolean };
  // A term is a pattern, or a defect-map file to read (only where files can be read: Node).
  const parseTerms = (terms: string[]): Pick<Item, 'patterns' | 'maps'> => {
    const files = terms.filter((t) => MAP_FILE.test(t));
    if (files.length && !readMap)
      throw new XbarError(`fault term '${files[0]}' names a defect-map file, which is read only on the command line (--faults)`);
    return {
      patterns: terms.filter((t) => !MAP_FILE.test(t)).map(parseTerm),
      maps: files.map((f) => ({ source: f, arrays: (readMap as MapReader)(f) })),
    };
  };
  const parsed: Item[] = items.map((item) => {
    if (!item) throw new XbarError(`fault spec '${text}' has an empty term: terms are joined by '+'`);
    if (item.startsWith('[')) {
      if (!item.endsWith(']'))
        throw new XbarError(`fault spec '${text}': write a group's scope inside its brackets, as [ring:radius=0.3@layers=0]`);
      const { body, layers } = splitScope(item.slice(1, -1));
      const terms = body.split('+').map((t) => t.trim());
      if (terms.some((t) => !t)) throw new XbarError(`fault spec '${text}' has an empty term: terms are joined by '+'`);
      return { ...parseTerms(terms), layers, bracketed: true };
    }
    if (item.includes(']')) throw new XbarError(`fault spec '${text}': ']' without its '['`);
    const { body, layers } = splitScope(item);
    if (!body) throw new XbarError(`fault spec '${text}' has an empty term: terms are joined by '+'`);
    return { ...parseTerms([body]), layers, bracketed: false };
  });
  const last = parsed[parsed.length - 1];
  // A bare last term's scope covers every bare term without its own scope (the whole spec).
  const wide = !last.bracketed && parsed.length > 1 ? last.layers : undefined;
  if (wide !== undefined) {
    const covered = parsed.slice(0, -1).filter((g) => !g.bracketed && g.layers === undefined);
    const ownScopes = parsed.slice(0, -1).filter((g) => !g.bracketed && g.layers !== undefined);
    if (covered.length && ownScopes.length)
      throw new XbarError(
        `fault spec '${text}' is ambiguous: the last '@layers' could scope the whole spec or its own term; bracket the terms that have their own scope, e.g. [circle@layers=0]+rows+columns@layers=2`,
      );
  }
  // One group for an item's patterns and one per defect-map file, all on the item's layers.
  return parsed.flatMap((g) => {
    const layers = g.layers ?? wide ?? 'all';
    return [...(g.patterns.length ? [{ patterns: g.patterns, layers }] : []), ...g.maps.map((maps) => ({ patterns: [], layers, maps }))];
  });
}

export function parseLayers(part: string | undefined, term: string): FaultGroup['layers'] {
  if (part === undefined) return 'all';
  const m = /^\s*layers\s*=\s*(.+)$/.exec(part);
  if (!m) throw new XbarError(`fault term '${term}': after '@' write layers=0,1 or layers=all`);
  if (m[1].trim() === 'all') return 'all';
  return m[1].split(',').map((s) => {
    const n = Number(s.trim());
    if (s.trim() === '' || !Number.isInteger(n) || n < 0)
      throw new XbarError(`fault term '${term}': layer '${s}' is not a layer index (0, 1, ...)`);
    return n;
  });
}

const layersText = (l: FaultGroup['layers']): string => (l === 'all' ? 'all' : l.join(','));

/**
 * The text form of a spec, listing every parameter, so that it parses back to the same patterns
 * on the same layers: one spec-wide `@layers` when every group shares its layers, else a bracketed
 * group for every group scoped to fewer than all layers.
 */
export function formatFaultSpec(spec: FaultSpec): string {
  const scopes = new Set(spec.map((g) => layersText(g.layers)));
  if (scopes.size <= 1) {
    const l = spec[0]?.layers ?? 'all';
    return `${spec.flatMap(groupTerms).join('+')}${l === 'all' ? '' : `@layers=${layersText(l)}`}`;
  }
  return spec
    .map((g) => {
      const terms = groupTerms(g).join('+');
      return g.layers === 'all' ? terms : `[${terms}@layers=${layersText(g.layers)}]`;
    })
    .join('+');
}

/** A group's terms in the text form: its patterns with every parameter, or its defect-map file. */
function groupTerms(g: FaultGroup): string[] {
  if (g.maps) return [g.maps.source];
  return g.patterns.map((p) => {
    const { pattern, ...rest } = p;
    return `${pattern}:${Object.entries(rest)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
  });
}

/** Which weighted layers each term of a spec lands on, one line per term, for the user to check. */
export function describeFaultLayers(spec: FaultSpec, weightedLayers?: number): string[] {
  return spec.flatMap((g) =>
    (g.maps ? [{ pattern: `defect map ${g.maps.source}` }] : g.patterns).map((p) => {
      const on =
        g.layers === 'all'
          ? weightedLayers === undefined
            ? 'every weighted layer'
            : `layers ${Array.from({ length: weightedLayers }, (_, i) => i).join(',')} (all)`
          : `layer${g.layers.length > 1 ? 's' : ''} ${g.layers.join(',')}`;
      return `${p.pattern} on ${on}`;
    }),
  );
}
