import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { z } from 'zod';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { readPart } from './parts-node.js';
import {
  arrayList,
  arrayScript,
  type Launcher,
  layout,
  mergeScript,
  PREPARED,
  parsableJobId,
  prepareScript,
  SHARDABLE,
  type SlurmOptions,
} from './slurm.js';

const RECORD_FORMAT = 'xbar-slurm';

const recordSchema = z.object({
  format: z.literal(RECORD_FORMAT),
  version: z.literal(1),
  command: z.string(),
  args: z.array(z.string()),
  shards: z.number().int().positive(),
  submissions: z.array(
    z.object({
      at: z.string(),
      shards: z.array(z.number()),
      /** The prepare job (a study in PREPARED whose shared steps were not finished yet). */
      prepare: z.string().nullable().optional(),
      array: z.string().nullable(),
      merge: z.string(),
    }),
  ),
});
type SlurmRecord = z.infer<typeof recordSchema>;

export interface SlurmOutcome {
  out: string;
  scripts: string[];
  /** Shards whose part is finished, and those still to run. */
  done: number[];
  missing: number[];
  /** With --submit: the job ids (array null when every shard was done and only the merge ran; prepare when it ran). */
  submitted?: { prepare: string | null; array: string | null; merge: string; shards: number[] };
  /** Every shard done and merged: nothing to submit. */
  merged: boolean;
}

/** The install line for a machine without Slurm's client tools. */
const NO_SBATCH =
  "sbatch not found on PATH: run this on a Slurm login node, or install Slurm's client (Debian: bash scripts/install-system-deps.sh slurm); without --submit xbar slurm only writes the scripts";

const onPath = (bin: string): boolean => (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, bin)));

/** Shard K is done when OUT/parts/K is a whole part of shard K of N (a damaged or foreign one is not). */
function doneShards(out: string, n: number): number[] {
  const done: number[] = [];
  for (let k = 1; k <= n; k++) {
    const dir = join(layout(out).parts, String(k));
    if (!existsSync(dir)) continue;
    try {
      const { part } = readPart(dir);
      if (part.shard.k === k && part.shard.n === n) done.push(k);
    } catch {
      // not finished, or damaged: run it again (the run folder replaces it whole)
    }
  }
  return done;
}

function readRecord(path: string): SlurmRecord | null {
  if (!existsSync(path)) return null;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    json = null;
  }
  const r = recordSchema.safeParse(json);
  if (!r.success) throw new XbarError(`${path} is damaged or not xbar slurm's: choose another --out`);
  return r.data;
}

/** Jobs of earlier submissions that Slurm still holds (pending or running). */
function stillQueued(ids: string[]): string[] {
  if (!ids.length) return [];
  const r = spawnSync('squeue', ['-h', '-o', '%A %T', '-j', ids.join(',')], { encoding: 'utf8' });
  if (r.error) throw new XbarError(NO_SBATCH.replace('sbatch', 'squeue'));
  if (r.status !== 0) {
    // Jobs that ended long ago are forgotten: that is not an error here.
    if (/Invalid job id/i.test(r.stderr)) return [];
    throw new XbarError(`squeue failed (${r.stderr.trim().split('\n')[0]}): is the Slurm controller up?`);
  }
  return [
    ...new Set(
      r.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split(' ')[0]),
    ),
  ];
}

function sbatch(args: string[]): string {
  const r = spawnSync('sbatch', ['--parsable', ...args], { encoding: 'utf8' });
  if (r.error) throw new XbarError(NO_SBATCH);
  if (r.status !== 0) throw new XbarError(`sbatch ${args.join(' ')} failed: ${r.stderr.trim().split('\n').join('; ')}`);
  return parsableJobId(r.stdout);
}

/** The command can be sharded, and leaves to xbar slurm what xbar slurm sets. */
export function checkCommand(command: string, args: string[], out: string): void {
  if (!(SHARDABLE as readonly string[]).includes(command))
    throw new XbarError(`xbar slurm runs commands that take --shard (${SHARDABLE.join(', ')}), not '${command}'`);
  for (const own of ['--shard', '--out', '-o', ...(PREPARED[command] ? [PREPARED[command].prepare, PREPARED[command].reuse] : [])])
    if (args.includes(own) || args.some((a) => a.startsWith(`${own}=`)))
      throw new XbarError(`xbar slurm sets ${own} of each shard itself: leave it out of the command (the run goes to --out ${out})`);
}

/**
 * `xbar slurm`: writes OUT/job.sbatch (the array) and OUT/merge.sbatch, records the run in
 * OUT/job.json, and with `submit` submits the shards whose part is not finished (all of them the
 * first time) and the merge job after them. A folder holds one run: another command, other
 * arguments or another shard count there is refused.
 */
export function slurmRun(command: string, args: string[], o: SlurmOptions, launch: Launcher, submit: boolean): SlurmOutcome {
  checkCommand(command, args, o.out);
  if (submit && !onPath('sbatch')) throw new XbarError(NO_SBATCH);
  const out = resolve(o.out);
  const opts = { ...o, out };
  const l = layout(out);
  const old = readRecord(l.record);
  if (old && (old.command !== command || JSON.stringify(old.args) !== JSON.stringify(args) || old.shards !== o.shards))
    throw new XbarError(
      `${o.out} holds another sharded run (xbar ${old.command} ${old.args.join(' ')}, ${old.shards} shards): choose another --out, or give the same command and --shards to resume it`,
    );
  mkdirSync(l.logs, { recursive: true });
  mkdirSync(l.parts, { recursive: true });
  const prepared = PREPARED[command] !== undefined;
  if (prepared) writeFileAtomic(l.prepare, prepareScript(command, args, opts, launch));
  writeFileAtomic(l.array, arrayScript(command, args, opts, launch));
  writeFileAtomic(l.merge, mergeScript(opts, launch));
  const record: SlurmRecord = old ?? { format: RECORD_FORMAT, version: 1, command, args, shards: o.shards, submissions: [] };
  writeFileAtomic(l.record, `${JSON.stringify(record, null, 1)}\n`);
  const done = doneShards(out, o.shards);
  const missing = Array.from({ length: o.shards }, (_, i) => i + 1).filter((k) => !done.includes(k));
  const merged = !missing.length && existsSync(join(l.results, 'manifest.json'));
  const outcome: SlurmOutcome = { out, scripts: [...(prepared ? [l.prepare] : []), l.array, l.merge], done, missing, merged };
  if (!submit || merged) return outcome;

  const queued = stillQueued(
    record.submissions.flatMap((s) => [s.prepare ?? null, s.array, s.merge].filter((id): id is string => id !== null)),
  );
  if (queued.length)
    throw new XbarError(
      `jobs ${queued.join(', ')} of this run are still queued or running: wait for them (squeue -j ${queued.join(',')}) or cancel them (scancel), then submit again`,
    );
  // The shared steps once, first, unless a finished prepare job left them (a prepare job that
  // failed leaves no run folder: it is submitted again). If it fails, the array is cancelled
  // (--kill-on-invalid-dep) and the merge job says which shards are missing.
  const prepare = prepared && missing.length && !existsSync(join(l.prepared, 'manifest.json')) ? sbatch([l.prepare]) : null;
  const after = prepare ? [`--dependency=afterok:${prepare}`, '--kill-on-invalid-dep=yes'] : [];
  const array = missing.length ? sbatch([`--array=${arrayList(missing)}`, ...after, l.array]) : null;
  const merge = sbatch([...(array ? [`--dependency=afterany:${array}`] : []), l.merge]);
  outcome.submitted = { prepare, array, merge, shards: missing };
  record.submissions.push({ at: new Date().toISOString(), shards: missing, prepare, array, merge });
  writeFileAtomic(l.record, `${JSON.stringify(record, null, 1)}\n`);
  return outcome;
}
