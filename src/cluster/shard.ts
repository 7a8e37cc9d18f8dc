import { XbarError } from '../core/errors.js';

/**
 * One shard of a study: shard k (from 1) of n. A study that runs a population of chips flattens
 * its work into items (for simulate: sweep point x chip, point-major) and shard k runs the k-th of
 * n contiguous blocks. Every chip is drawn from (seed, chip index) alone, so a chip is the same
 * chip whichever shard runs it, and the blocks of shards 1..n together are the unsharded run.
 */
export interface Shard {
  k: number;
  n: number;
}

/** A contiguous range of items [first, first + count). */
export interface ItemRange {
  first: number;
  count: number;
}

/** Environment variables --shard auto reads (process.env in the CLI). */
export type ShardEnv = Record<string, string | undefined>;

const whole = (v: string | undefined): number | undefined => (v !== undefined && /^\d+$/.test(v.trim()) ? Number(v) : undefined);

/**
 * `K/N` (K from 1), `auto` or `auto/N`.
 * - `auto` in a Slurm array: K = SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN + 1 and
 *   N = SLURM_ARRAY_TASK_COUNT (the whole array submitted at once, whatever its first id).
 * - `auto/N`: N given; K = SLURM_ARRAY_TASK_ID (the array ids are the shard numbers, as in the
 *   scripts `xbar slurm` writes, so that a resubmitted `--array=2,5` still runs shards 2 and 5),
 *   or JOB_COMPLETION_INDEX + 1 in a Kubernetes Indexed Job (its index counts from 0 and the job
 *   does not tell its completion count, hence the /N).
 */
export function parseShard(text: string, env: ShardEnv = {}): Shard {
  const t = text.trim();
  const m = /^(\d+)\/(\d+)$/.exec(t);
  if (m) return checked(Number(m[1]), Number(m[2]), t);
  const a = /^auto(?:\/(\d+))?$/.exec(t);
  if (!a) throw new XbarError(`--shard '${text}' must be K/N (shard K of N, K from 1), auto or auto/N`);
  const id = whole(env.SLURM_ARRAY_TASK_ID);
  const index = whole(env.JOB_COMPLETION_INDEX);
  if (a[1] !== undefined) {
    const n = Number(a[1]);
    if (id !== undefined) {
      if (id < 1 || id > n)
        throw new XbarError(
          `--shard auto/${n}: SLURM_ARRAY_TASK_ID is ${id}, not a shard number 1..${n}: submit the array as --array=1-${n} (xbar slurm does)`,
        );
      return checked(id, n, t);
    }
    if (index !== undefined) return checked(index + 1, n, t);
    throw new XbarError(
      `--shard ${t}: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set: give the shard as K/${n}`,
    );
  }
  if (id !== undefined) {
    const min = whole(env.SLURM_ARRAY_TASK_MIN);
    const count = whole(env.SLURM_ARRAY_TASK_COUNT);
    if (min === undefined || count === undefined)
      throw new XbarError(
        '--shard auto: SLURM_ARRAY_TASK_MIN or SLURM_ARRAY_TASK_COUNT is not set: give the shard count as --shard auto/N',
      );
    return checked(id - min + 1, count, t);
  }
  if (index !== undefined)
    throw new XbarError(
      '--shard auto: a Kubernetes Indexed Job does not tell its completion count: use --shard auto/N with N = completions',
    );
  throw new XbarError(
    '--shard auto: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set: give the shard as K/N',
  );
}

function checked(k: number, n: number, text: string): Shard {
  if (n < 1) throw new XbarError(`--shard ${text}: the shard count must be at least 1`);
  if (k < 1 || k > n) throw new XbarError(`--shard ${text}: shard ${k} is not one of 1..${n}`);
  return { k, n };
}

/**
 * The items of shard k of n: the k-th of n contiguous blocks, sizes differing by at most one
 * (floor((k-1)·items/n) up to floor(k·items/n)). With more shards than items some blocks are empty.
 */
export function itemBlock(items: number, s: Shard): ItemRange {
  const first = Math.floor(((s.k - 1) * items) / s.n);
  return { first, count: Math.floor((s.k * items) / s.n) - first };
}

/** The chips of sweep point `point` (of `chips` each) that the item range holds: a range of chip indices. */
export function chipsOfPoint(range: ItemRange, chips: number, point: number): ItemRange {
  const lo = Math.max(range.first, point * chips);
  const hi = Math.min(range.first + range.count, (point + 1) * chips);
  return hi > lo ? { first: lo - point * chips, count: hi - lo } : { first: 0, count: 0 };
}

export const formatShard = (s: Shard): string => `${s.k}/${s.n}`;
