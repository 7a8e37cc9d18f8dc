import { XbarError } from '../core/errors.js';

/**
 * The batch scripts of a sharded run on Slurm: a job array whose task K runs shard K of N
 * (`--shard auto/N`, the array ids being the shard numbers so that a resubmitted `--array=2,5`
 * runs shards 2 and 5), and a merge job submitted to start after the whole array ends, whatever
 * its tasks' outcome (`--dependency=afterany`), so that it lists the shards that failed.
 */

/** The commands that take --shard (their parts xbar merge assembles). */
export const SHARDABLE = ['simulate', 'correct train', 'correct eval', 'correctnet'] as const;

/**
 * Studies whose shards share steps that are computed once, before them, by a prepare job the
 * array waits for (`--dependency=afterok`): the flag that computes them into OUT/prepared and the
 * one with which each shard reuses them. correctnet: the networks, placement and compensation,
 * minutes to hours that every shard would otherwise repeat (docs/cluster.md).
 */
export const PREPARED: Record<string, { prepare: string; reuse: string }> = {
  correctnet: { prepare: '--prepare', reuse: '--reuse' },
};

export interface SlurmOptions {
  shards: number;
  /** The run's folder: job.sbatch, merge.sbatch, job.json, logs/, parts/K, results/. */
  out: string;
  partition?: string;
  /** Wall-clock limit per task (Slurm's --time, e.g. 1:00:00). */
  time?: string;
  /** Memory per task (Slurm's --mem, e.g. 4G). */
  mem?: string;
  cpusPerTask: number;
}

/** How a task starts xbar: this Node and this xbar's entry point (a cluster shares the file system). */
export interface Launcher {
  node: string;
  xbar: string;
  /** The working folder the command's relative paths are read from. */
  cwd: string;
}

/** A word for bash, single-quoted unless it needs no quotes. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const directives = (o: SlurmOptions, launch: Launcher, name: string, log: string, extra: string[] = []): string[] => [
  '#!/bin/bash',
  `#SBATCH --job-name=${name}`,
  ...extra,
  `#SBATCH --output=${log}`,
  `#SBATCH --chdir=${launch.cwd}`,
  ...(o.partition ? [`#SBATCH --partition=${o.partition}`] : []),
  ...(o.time ? [`#SBATCH --time=${o.time}`] : []),
  ...(o.mem ? [`#SBATCH --mem=${o.mem}`] : []),
];

/** Paths inside the run folder. */
export const layout = (out: string) => ({
  prepare: `${out}/prepare.sbatch`,
  prepared: `${out}/prepared`,
  array: `${out}/job.sbatch`,
  merge: `${out}/merge.sbatch`,
  record: `${out}/job.json`,
  logs: `${out}/logs`,
  parts: `${out}/parts`,
  results: `${out}/results`,
});

/**
 * How a command uses the task's cores (--cpus-per-task): worker threads for the chips (simulate,
 * correctnet) or the native kernels' threads (the corrector's commands); nothing when the command
 * line sets it already.
 */
export function coresFlag(command: string, args: string[], o: Pick<SlurmOptions, 'cpusPerTask'>): string[] {
  const flag = command === 'simulate' || command === 'correctnet' ? '--workers' : '--threads';
  return args.includes(flag) || args.some((a) => a.startsWith(`${flag}=`)) ? [] : [flag, String(o.cpusPerTask)];
}

/**
 * The job array: task K runs `xbar <command> <args> --shard auto/N --out OUT/parts/K` (with
 * `--reuse OUT/prepared` for a study with a prepare job).
 */
export function arrayScript(command: string, args: string[], o: SlurmOptions, launch: Launcher): string {
  const l = layout(o.out);
  const reuse = PREPARED[command] ? [PREPARED[command].reuse, l.prepared] : [];
  const run = [
    launch.node,
    launch.xbar,
    ...command.split(' '),
    ...args,
    ...coresFlag(command, args, o),
    ...reuse,
    '--shard',
    `auto/${o.shards}`,
    '--quiet',
  ].map(shellQuote);
  return `${[
    ...directives(o, launch, `xbar-${command.replace(/ /g, '-')}`, `${l.logs}/shard-%a.out`, [
      `#SBATCH --array=1-${o.shards}`,
      `#SBATCH --cpus-per-task=${o.cpusPerTask}`,
    ]),
    `# Shard K of ${o.shards} of: xbar ${[command, ...args].map(shellQuote).join(' ')}`,
    '# Written by xbar slurm; a resubmission gives --array=K,... on the command line (it overrides the line above).',
    'set -euo pipefail',
    `exec ${run.join(' ')} --out ${shellQuote(l.parts)}/"$SLURM_ARRAY_TASK_ID"`,
  ].join('\n')}\n`;
}

/** The prepare job of a study in PREPARED: `xbar <command> <args> --prepare --out OUT/prepared`. */
export function prepareScript(command: string, args: string[], o: SlurmOptions, launch: Launcher): string {
  const l = layout(o.out);
  const run = [
    launch.node,
    launch.xbar,
    ...command.split(' '),
    ...args,
    ...coresFlag(command, args, o),
    PREPARED[command].prepare,
    '--quiet',
  ];
  return `${[
    ...directives(o, launch, `xbar-${command.replace(/ /g, '-')}-prepare`, `${l.logs}/prepare.out`, [
      `#SBATCH --cpus-per-task=${o.cpusPerTask}`,
    ]),
    `# The steps every shard of job.sbatch shares, computed once: xbar ${[command, ...args].map(shellQuote).join(' ')}`,
    '# Written by xbar slurm; the array is submitted with --dependency=afterok:<this job>.',
    'set -euo pipefail',
    `exec ${[...run, '--out', l.prepared].map(shellQuote).join(' ')}`,
  ].join('\n')}\n`;
}

/** The merge job: `xbar merge OUT/parts --out OUT/results` (it lists the shards that are missing). */
export function mergeScript(o: SlurmOptions, launch: Launcher): string {
  const l = layout(o.out);
  return `${[
    ...directives(o, launch, 'xbar-merge', `${l.logs}/merge.out`),
    '# Merges the shards of job.sbatch; submitted with --dependency=afterany:<array job> by xbar slurm --submit.',
    'set -euo pipefail',
    `exec ${[launch.node, launch.xbar, 'merge', l.parts, '--out', l.results].map(shellQuote).join(' ')}`,
  ].join('\n')}\n`;
}

/** The job id sbatch --parsable prints (`id` or `id;cluster`). */
export function parsableJobId(stdout: string): string {
  const id = stdout.trim().split(';')[0];
  if (!/^\d+$/.test(id)) throw new XbarError(`sbatch printed '${stdout.trim()}', not a job id: see the Slurm message above`);
  return id;
}

/** `2,5,7-9`: shard numbers as Slurm's --array list. */
export function arrayList(shards: number[]): string {
  const s = [...shards].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(j > i ? `${s[i]}-${s[j]}` : `${s[i]}`);
    i = j + 1;
  }
  return out.join(',');
}
