import { XbarError } from '../core/errors.js';

/** Helpers shared by the result kinds: field access that names the file and path on failure, and tolerant readers. */

export type Json = Record<string, unknown>;

export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Reads required fields of a result file; every failure is one line naming the file and the field. */
export class Fields {
  constructor(readonly file: string) {}

  fail(path: string, what: string): never {
    throw new XbarError(`${this.file}: ${path} ${what}: the file is malformed; re-run the command that wrote it`);
  }

  obj(v: unknown, path: string): Json {
    if (!isObj(v)) this.fail(path, 'must be an object');
    return v;
  }

  arr(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'must be an array');
    return v;
  }

  num(v: unknown, path: string): number {
    if (!isNum(v)) this.fail(path, 'must be a number');
    return v;
  }

  /** A share such as an accuracy: a number in [0, 1]. A report must not draw "4200.00%". */
  frac(v: unknown, path: string): number {
    const x = this.num(v, path);
    if (x < 0 || x > 1) this.fail(path, `is ${x}, outside 0..1 (a share such as an accuracy)`);
    return x;
  }

  /** A count: a whole number >= min. */
  int(v: unknown, path: string, min = 0): number {
    const x = this.num(v, path);
    if (!Number.isInteger(x) || x < min) this.fail(path, `is ${x}, not a whole number >= ${min}`);
    return x;
  }

  str(v: unknown, path: string): string {
    if (typeof v !== 'string') this.fail(path, 'must be a string');
    return v;
  }
}

/** The first field of `o` among `names` that is present (not undefined or null). */
export function pick(o: unknown, ...names: string[]): unknown {
  if (!isObj(o)) return undefined;
  for (const n of names) if (o[n] !== undefined && o[n] !== null) return o[n];
  return undefined;
}

/** The first field whose name matches `re`, with its name. */
export function pickMatch(o: unknown, re: RegExp, exclude?: RegExp): [string, unknown] | undefined {
  if (!isObj(o)) return undefined;
  for (const [k, v] of Object.entries(o)) if (re.test(k) && !exclude?.test(k) && v !== undefined && v !== null) return [k, v];
  return undefined;
}

/** Mean and spread of an accuracy (or any figure) over chips, from whatever form a result gives. */
export interface Stat {
  mean: number;
  std?: number;
  min?: number;
  max?: number;
  lo?: number;
  hi?: number;
  n?: number;
  /** Per-chip values, when the result lists them. */
  values?: number[];
}

function statOfValues(values: number[]): Stat | null {
  if (!values.length) return null;
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, min: Math.min(...values), max: Math.max(...values), n, values };
}

/**
 * A Stat from a number, a summary object ({mean, std, min, max, ci95, p025, p975, n}), an
 * object with an `accuracy`, or an array of numbers or of per-chip objects. Null if none fits.
 */
export function toStat(v: unknown): Stat | null {
  if (isNum(v)) return { mean: v };
  if (Array.isArray(v)) {
    const vals = v.map((x) => (isNum(x) ? x : toStat(x)?.mean)).filter(isNum);
    return vals.length === v.length ? statOfValues(vals) : null;
  }
  if (!isObj(v)) return null;
  const nested = pick(v, 'summary', 'stats');
  if (isObj(nested) && !isNum(v.mean)) return toStat(nested);
  const mean = pick(v, 'mean', 'accuracy', 'acc', 'value', 'avg');
  if (!isNum(mean)) {
    const chips = pick(v, 'chips', 'values', 'accuracies');
    return Array.isArray(chips) ? toStat(chips) : null;
  }
  const s: Stat = { mean };
  const num = (...names: string[]) => {
    const x = pick(v, ...names);
    return isNum(x) ? x : undefined;
  };
  s.std = num('std', 'stdev', 'sd');
  s.min = num('min');
  s.max = num('max');
  s.n = num('n', 'chips', 'count');
  const ci = pick(v, 'ci95', 'ci');
  if (Array.isArray(ci) && isNum(ci[0]) && isNum(ci[1])) [s.lo, s.hi] = [ci[0], ci[1]];
  return s;
}

/**
 * Accuracy written as a percentage (e.g. 85.2) instead of a fraction: bring it to 0..1. Values no
 * reading makes an accuracy (below 0 or above 100%) are refused: a report that draws them would
 * mislead.
 */
export function fraction(s: Stat): Stat {
  // lo/hi are a confidence interval of the mean: with few chips it may leave 0..1 legitimately.
  const all = [s.mean, s.min, s.max, ...(s.values ?? [])].filter((x): x is number => x !== undefined);
  const bad = all.find((x) => x < 0 || x > 100);
  if (bad !== undefined) throw new XbarError(`an accuracy of ${bad} is outside 0..1 (or 0..100%)`);
  const big = s.mean > 1.0000001;
  const f = (x: number | undefined) => (x === undefined || !big ? x : x / 100);
  const out: Stat = {
    ...s,
    mean: f(s.mean) as number,
    std: f(s.std),
    min: f(s.min),
    max: f(s.max),
    lo: f(s.lo),
    hi: f(s.hi),
    values: big ? s.values?.map((x) => x / 100) : s.values,
  };
  if (out.std !== undefined && (out.std < 0 || out.std > 1)) throw new XbarError(`an accuracy's spread of ${s.std} is outside 0..1`);
  return out;
}

/**
 * An accuracy from whatever form a result gives, or null. The tolerant kinds probe many fields
 * with it, so a value no reading makes an accuracy (a drop of -0.04, an accuracy of 4200) is "not
 * an accuracy" here: it is never drawn as one. Strict fields use Fields.frac, which refuses.
 */
export const accuracyStat = (v: unknown): Stat | null => {
  const s = toStat(v);
  if (!s) return null;
  try {
    return fraction(s);
  } catch (e) {
    if (e instanceof XbarError) return null;
    throw e;
  }
};

export const pct = (x: number | undefined, digits = 2): string => (x === undefined ? '' : `${(100 * x).toFixed(digits)}%`);
export const pp = (x: number | undefined): string => (x === undefined ? '' : (100 * x).toFixed(2));

/** A number as a person reads it: integers as they are, others to 4 significant digits. */
export function fmt(v: unknown): string {
  if (isNum(v)) {
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
    return String(Number(v.toPrecision(4)));
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (v === null || v === undefined) return '';
  if (Array.isArray(v) && v.every((x) => isNum(x) || typeof x === 'string')) return v.map(fmt).join(', ');
  return JSON.stringify(v);
}

/**
 * The scalar fields of an object (and of its objects, one level down, as `parent.key`), as facts.
 * Arrays of numbers or strings count as scalars; larger arrays and deeper objects are left out.
 */
export function scalarFacts(o: unknown, prefix = '', depth = 1): [string, string][] {
  if (!isObj(o)) return [];
  const out: [string, string][] = [];
  for (const [k, v] of Object.entries(o)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (isObj(v)) {
      if (depth > 0) out.push(...scalarFacts(v, name, depth - 1));
    } else if (Array.isArray(v)) {
      if (v.length <= 16 && v.every((x) => isNum(x) || typeof x === 'string')) out.push([name, fmt(v)]);
    } else if (v !== undefined && v !== null) out.push([name, fmt(v)]);
  }
  return out;
}

/** A file-name and anchor friendly name. */
export function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 60) || 'x'
  );
}

/** Arrays of objects anywhere in `o` (depth-first, up to `depth`), with their paths. */
export function arraysOfObjects(o: unknown, path = '', depth = 3): { path: string; items: Json[] }[] {
  const out: { path: string; items: Json[] }[] = [];
  if (depth < 0) return out;
  if (Array.isArray(o)) {
    if (o.length && o.every(isObj)) out.push({ path, items: o as Json[] });
    return out;
  }
  if (isObj(o)) for (const [k, v] of Object.entries(o)) out.push(...arraysOfObjects(v, path ? `${path}.${k}` : k, depth - 1));
  return out;
}

/** A row label: the first string or number field among the usual label names. */
export function labelOf(o: Json, names: string[], fallback: string): string {
  const v = pick(o, ...names);
  if (typeof v === 'string') return v;
  if (isNum(v)) return String(v);
  if (Array.isArray(v)) return v.map(String).join('+');
  return fallback;
}

/** An object's fields with objects flattened one or more levels into dotted names (`spice.accuracy`). */
export function flatten(o: unknown, depth = 2, prefix = ''): Json {
  const out: Json = {};
  if (!isObj(o)) return out;
  for (const [k, v] of Object.entries(o)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (isObj(v) && depth > 0 && !('mean' in v && isNum(v.mean))) Object.assign(out, flatten(v, depth - 1, name));
    else out[name] = v;
  }
  return out;
}

const BEFORE_RE = /^(before|uncorrected|baseline|raw|plain|without)|(^|[._])(before|uncorrected|baseline)|Before$|Uncorrected$/i;
const AFTER_RE = /^(after|corrected|with(?!out)|compensated)|(^|[._])(after|corrected)|After$|Corrected$/i;

/**
 * Accuracy before and after a correction in an object: `before`/`after`, `uncorrected`/`corrected`,
 * `accuracyBefore`/`accuracyAfter`, `baseline`/`corrected`, or `{before: {mean, std}}` forms.
 */
export function beforeAfter(o: unknown): { before: Stat; after: Stat } | null {
  if (!isObj(o)) return null;
  let before: Stat | null = null;
  let after: Stat | null = null;
  for (const [k, v] of Object.entries(o)) {
    if (!before && BEFORE_RE.test(k)) before = accuracyStat(v);
    else if (!after && AFTER_RE.test(k) && !/uncorrected/i.test(k)) after = accuracyStat(v);
  }
  return before && after ? { before, after } : null;
}

export const meanStd = (s: Stat | null | undefined): string =>
  !s ? '' : `${pct(s.mean)}${s.std !== undefined ? ` +- ${pp(s.std)}` : ''}${s.n !== undefined ? ` (n=${s.n})` : ''}`;
