import { createHash } from 'node:crypto';
import { z } from 'zod';
import { VERSION } from '../version.js';
import { formatShard, type Shard } from './shard.js';

/**
 * What one shard of a study writes (`part.json` in its own run folder, beside the files it
 * drew, such as defect maps): the whole configuration of the study, so that a part knows which
 * run it belongs to, and its share of the results. `xbar merge` refuses parts that do not share
 * the configuration, the inputs' checksums, the seed and the xbar version.
 */
export const PART_FORMAT = 'xbar-part';
export const PART_VERSION = 1;
export const PART_FILE = 'part.json';

export interface PartHeader {
  /** The study, e.g. 'simulate': the merge that assembles its parts. */
  command: string;
  /** Every option that changes a result (not where it goes, how many threads, how it prints). */
  config: Record<string, unknown>;
  /** sha256 of what the study read, by name (model, data). */
  inputs: Record<string, string>;
  seed: number;
  shard: Shard;
  /** The items this shard ran, of `total` (for simulate: sweep points x chips). */
  items: { first: number; count: number; total: number };
  /**
   * Further populations split on their own, each into the same N blocks (correctnet: the
   * per-chip calibrations, 100-1000 times a sweep chip's cost, so that every shard gets its share).
   */
  blocks?: Record<string, { first: number; count: number; total: number }>;
}

export interface Part<T = unknown> extends PartHeader {
  format: typeof PART_FORMAT;
  version: typeof PART_VERSION;
  xbarVersion: string;
  createdAt: string;
  /** The study's own share of the results (its merge validates it). */
  data: T;
}

const count = z.number().int().nonnegative();
export const partSchema = z.object({
  format: z.literal(PART_FORMAT),
  version: z.literal(PART_VERSION),
  xbarVersion: z.string(),
  createdAt: z.string(),
  command: z.string().min(1),
  config: z.record(z.string(), z.unknown()),
  inputs: z.record(z.string(), z.string()),
  seed: count,
  shard: z.object({ k: z.number().int().positive(), n: z.number().int().positive() }),
  items: z.object({ first: count, count, total: count }),
  blocks: z.record(z.string(), z.object({ first: count, count, total: count })).optional(),
  data: z.unknown(),
});

export function makePart<T>(header: PartHeader, data: T): Part<T> {
  return { format: PART_FORMAT, version: PART_VERSION, xbarVersion: VERSION, createdAt: new Date().toISOString(), ...header, data };
}

/**
 * Options that change nothing in a result: where it goes, how it prints, how the work is spread,
 * where finished steps are taken from (correctnet's --reuse; --prepare runs only the shared steps).
 */
const PLACEMENT = new Set(['out', 'shard', 'workers', 'threads', 'quiet', 'json', 'reuse', 'prepare']);

/** The options of a study that a part records and a merge compares (the options minus placement). */
export function studyConfig(options: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(options).filter(([k, v]) => !PLACEMENT.has(k) && v !== undefined));
}

/** sha256 of a sequence of byte views and strings (each length-prefixed, so boundaries count). */
export function checksum(...parts: (ArrayBufferView | string)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    h.update(`${bytes.byteLength}:`);
    h.update(bytes);
  }
  return h.digest('hex');
}

const flag = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
const show = (v: unknown): string => (v === undefined ? '(not set)' : JSON.stringify(v));

/**
 * The first way in which part b does not belong to the same run as part a, in words, or null.
 * Order: what ran (command, xbar version), what it read (inputs), then seed, options, shard count.
 */
export function partDifference(a: Part, b: Part): string | null {
  if (a.command !== b.command) return `it is a part of xbar ${b.command}, not xbar ${a.command}`;
  if (a.xbarVersion !== b.xbarVersion) return `xbar ${b.xbarVersion} wrote it, xbar ${a.xbarVersion} the other`;
  for (const k of new Set([...Object.keys(a.inputs), ...Object.keys(b.inputs)]))
    if (a.inputs[k] !== b.inputs[k]) return `its ${k} differs (checksum ${short(b.inputs[k])} vs ${short(a.inputs[k])})`;
  if (a.seed !== b.seed) return `seed ${b.seed} vs ${a.seed}`;
  const keys = [...new Set([...Object.keys(a.config), ...Object.keys(b.config)])].sort();
  for (const k of keys)
    if (JSON.stringify(a.config[k]) !== JSON.stringify(b.config[k])) return `${flag(k)} ${show(b.config[k])} vs ${show(a.config[k])}`;
  if (a.shard.n !== b.shard.n) return `shard ${formatShard(b.shard)} vs ${formatShard(a.shard)}: split into another number of shards`;
  if (a.items.total !== b.items.total) return `${b.items.total} items vs ${a.items.total}`;
  for (const k of new Set([...Object.keys(a.blocks ?? {}), ...Object.keys(b.blocks ?? {})]))
    if (a.blocks?.[k]?.total !== b.blocks?.[k]?.total) return `${b.blocks?.[k]?.total ?? 0} ${k} items vs ${a.blocks?.[k]?.total ?? 0}`;
  return null;
}

const short = (sum: string | undefined): string => (sum ? sum.slice(0, 12) : 'none');
