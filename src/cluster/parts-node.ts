import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { XbarError } from '../core/errors.js';
import { MANIFEST, verifyRunFolder } from '../core/run-manifest.js';
import { PART_FILE, type Part, partDifference, partSchema } from './part.js';
import { formatShard, itemBlock } from './shard.js';

/** A part as read from its folder. */
export interface PartIn<T = unknown> {
  dir: string;
  part: Part<T>;
}

/** Reads one shard's part: a whole run folder (its manifest checked) holding part.json. */
export function readPart(dir: string): PartIn {
  if (!existsSync(join(dir, MANIFEST)))
    throw new XbarError(`${dir} is not a finished shard (no ${MANIFEST}): the shard did not end; run it again`);
  verifyRunFolder(dir, 0);
  if (!existsSync(join(dir, PART_FILE)))
    throw new XbarError(`${dir} is not a shard's part (no ${PART_FILE}): give the --out folders of xbar simulate --shard K/N`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(join(dir, PART_FILE), 'utf8'));
  } catch (e) {
    throw new XbarError(`${dir}/${PART_FILE} cannot be read (${(e as Error).message}): run the shard again`);
  }
  const r = partSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new XbarError(
      `${dir}/${PART_FILE} is not a shard's part (${issue.path.join('.') || 'file'}: ${issue.message}): run the shard again`,
    );
  }
  return { dir, part: r.data as Part };
}

const isPart = (dir: string) => existsSync(join(dir, PART_FILE));

/**
 * The part folders the arguments name: each is a part, or a folder of parts (as `xbar slurm`
 * lays them out in DIR/parts/K). Folders a shard left unfinished (its hidden staging folder,
 * or a folder without a part) are passed over here: the shard check lists them as missing.
 */
export function partFolders(args: string[]): string[] {
  if (!args.length) throw new XbarError("xbar merge needs the parts: give the shards' --out folders, or the folder holding them");
  const dirs: string[] = [];
  for (const a of args) {
    if (!existsSync(a))
      throw new XbarError(
        `${a} does not exist (a shard that did not finish leaves no folder): merge the folder holding the parts to list the missing shards`,
      );
    if (!statSync(a).isDirectory()) throw new XbarError(`${a} is not a folder: give the shards' --out folders`);
    if (isPart(a) || existsSync(join(a, MANIFEST))) {
      dirs.push(a);
      continue;
    }
    const inner = readdirSync(a, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => join(a, e.name))
      .filter((d) => isPart(d) || existsSync(join(d, MANIFEST)));
    if (!inner.length && !readdirSync(a).some((n) => n.startsWith('.')))
      throw new XbarError(`${a} holds no shard's part (part.json): give the shards' --out folders`);
    dirs.push(...inner);
  }
  // The same folder named twice (a glob and its parent) is one part.
  const seen = new Set<string>();
  return dirs.filter((d) => {
    const real = realpathSync(d);
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}

/**
 * Reads and checks the parts of one sharded run: they share the command, inputs, seed, options
 * and shard count (else one line naming the first difference), each holds its shard's block of
 * items, and shards 1..N are each there once (else one line listing the missing or duplicated
 * ones). Returns them in shard order.
 */
export function loadParts(args: string[]): PartIn[] {
  const dirs = partFolders(args);
  if (!dirs.length) throw new XbarError(`no finished shard in ${args.join(', ')}: run the shards first`);
  const parts = dirs.map(readPart);
  const first = parts[0];
  for (const p of parts.slice(1)) {
    const why = partDifference(first.part, p.part);
    if (why)
      throw new XbarError(
        `${p.dir} is not a part of the same run as ${first.dir}: ${why}; merge only the shards of one run (the same command, options, inputs and seed)`,
      );
  }
  const { n } = first.part.shard;
  const { total } = first.part.items;
  for (const { dir, part } of parts)
    for (const [name, got] of [['items', { ...part.items, total }], ...Object.entries(part.blocks ?? {})] as const) {
      const want = itemBlock(got.total, part.shard);
      if (got.first !== want.first || got.count !== want.count)
        throw new XbarError(
          `${dir}: shard ${formatShard(part.shard)} should hold ${name === 'items' ? 'items' : `${name} items`} ${want.first}..${want.first + want.count - 1} of ${got.total}, not ${got.first}..${got.first + got.count - 1}: run the shard again`,
        );
    }
  const byShard = new Map<number, PartIn[]>();
  for (const p of parts) byShard.set(p.part.shard.k, [...(byShard.get(p.part.shard.k) ?? []), p]);
  const dup = [...byShard.entries()].filter(([, ps]) => ps.length > 1).sort((a, b) => a[0] - b[0]);
  if (dup.length)
    throw new XbarError(
      `shards held by more than one part: ${dup.map(([k, ps]) => `${k} (${ps.map((p) => p.dir).join(', ')})`).join('; ')}: give each shard once`,
    );
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((k) => !byShard.has(k));
  if (missing.length)
    throw new XbarError(
      `shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${n} ${missing.length > 1 ? 'are' : 'is'} missing: run ${missing.length > 1 ? 'them' : 'it'} (xbar slurm ... --submit again resubmits only missing shards), then merge again`,
    );
  return parts.sort((a, b) => a.part.shard.k - b.part.shard.k);
}
