import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { coresFlag, layout } from '../cluster/slurm.js';
import { checkCommand, slurmRun } from '../cluster/slurm-node.js';
import { XbarError } from '../core/errors.js';
import { makeProgress } from '../core/progress-node.js';
import { markdownTable } from '../study/correctnet-node.js';
import { mergeRun } from '../study/merge-node.js';
import { intOption, output, pct } from './options.js';

/** Slurm's options that may also follow the command (--time there is the command's own). */
const TRAILING: Record<string, 'value' | 'flag'> = {
  '--shards': 'value',
  '--out': 'value',
  '-o': 'value',
  '--partition': 'value',
  '--mem': 'value',
  '--cpus-per-task': 'value',
  '--submit': 'flag',
};

/** Takes xbar slurm's own options out of the words after the command. */
function splitTrailing(words: string[]): { own: Record<string, string | true>; rest: string[] } {
  const own: Record<string, string | true> = {};
  const rest: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const [name, inline] = words[i].split(/=(.*)/s, 2);
    const kind = TRAILING[name];
    if (!kind) rest.push(words[i]);
    else if (kind === 'flag') own[name] = true;
    else {
      const v = inline ?? words[++i];
      if (v === undefined) throw new XbarError(`xbar slurm: ${name} needs a value`);
      own[name === '-o' ? '--out' : name] = v;
    }
  }
  return { own, rest };
}

/** Thrown by the check below once the command's flags parsed: its action is not run. */
class FlagsParsed extends Error {}

/**
 * Parses the command's words as `xbar <command> ...` would, without running it, so that a
 * misspelt flag is reported now rather than by every array task. Commander prints its own error;
 * its CommanderError ends xbar with exit code 2 like any usage error.
 */
async function checkFlags(makeProgram: () => Command, words: string[]): Promise<void> {
  const check = makeProgram();
  check.hook('preAction', () => {
    throw new FlagsParsed();
  });
  try {
    await check.parseAsync(words, { from: 'user' });
  } catch (e) {
    if (!(e instanceof FlagsParsed)) throw e;
  }
}

/** `xbar merge` and `xbar slurm`; `makeProgram` builds a fresh xbar program, to check a sharded command's flags. */
export function registerCluster(p: Command, makeProgram: () => Command): void {
  output(
    p
      .command('merge')
      .description(
        'merge the parts of a sharded run (xbar simulate, correct eval or correctnet --shard K/N) into the results the unsharded run writes',
      )
      .argument('<parts...>', "the shards' --out folders, or a folder holding them (xbar slurm's OUT/parts)")
      .requiredOption('-o, --out <dir>', 'write the merged results here (results.json, chips.csv, summary.csv, maps/)'),
  ).action(async (parts: string[], o: { out: string; json?: boolean; quiet?: boolean }) => {
    const r = await mergeRun(parts, o.out, makeProgress(Boolean(o.quiet || o.json)));
    if (r.corrector) {
      const c = r.corrector;
      if (o.json)
        console.log(JSON.stringify({ command: r.command, shards: r.shards, out: r.out, corrector: c.name, cost: c.cost }, null, 2));
      else
        console.log(
          `trained corrector ${c.name} on ${c.result.trainChips} chips, ${c.result.samples} samples${c.valAccuracy !== null ? `; validation chips ${pct(c.valAccuracy)}` : ''}${c.summary ? `; held-out chips ${c.summary.heldOutChips}: uncorrected ${pct(c.summary.uncorrected.mean)}, corrected ${pct(c.summary.corrected.mean)}` : ''}\nmerged ${r.shards} shards of xbar ${r.command} into ${r.out}`,
        );
      return;
    }
    if (r.correctnet) {
      const h = r.correctnet.headline;
      if (o.json) console.log(JSON.stringify({ command: r.command, shards: r.shards, out: r.out, headline: h }, null, 2));
      else
        console.log(
          `${markdownTable(r.correctnet)}\nmerged ${r.shards} shards of xbar ${r.command} into ${r.out}: target sigma ${h.targetSigma}, plain ${pct(h.plainAtTarget)}, lipschitz+comp ${pct(h.lipschitzCompAtTarget)}`,
        );
      return;
    }
    if (r.heldOut) {
      if (o.json) console.log(JSON.stringify({ command: r.command, shards: r.shards, out: r.out, heldOut: r.heldOut }, null, 2));
      else
        console.log(
          `held-out chips ${r.heldOut.heldOutChips}: uncorrected ${pct(r.heldOut.uncorrected.mean)}, corrected ${pct(r.heldOut.corrected.mean)}\nmerged ${r.shards} shards of xbar ${r.command} into ${r.out}`,
        );
      return;
    }
    if (o.json) {
      console.log(
        JSON.stringify(
          {
            command: r.command,
            shards: r.shards,
            out: r.out,
            rows: r.rows.map((row) => ({ key: row.key, value: row.value, summary: row.result.summary })),
          },
          null,
          2,
        ),
      );
      return;
    }
    if (!o.quiet)
      for (const row of r.rows)
        console.log(
          `${row.key ? `${row.key}=${row.value}: ` : ''}accuracy ${pct(row.result.summary.mean)} +- ${pct(row.result.summary.std)} over ${row.result.summary.n} chips`,
        );
    console.log(`merged ${r.shards} shards of xbar ${r.command} into ${r.out}`);
  });

  // xbar slurm hands the words after its command to that command: the program's own options
  // (--version, --help) must then come before the subcommand, as they do anyway.
  p.enablePositionalOptions();
  p.command('slurm')
    .description(
      'run a command as a Slurm job array of shards and merge them: writes OUT/job.sbatch and OUT/merge.sbatch; --submit submits them (again: only the missing shards)',
    )
    .argument('<command>', 'the command to shard: simulate, correct train, correct eval, correctnet')
    .argument('[args...]', "the command's options (not --shard or --out: xbar slurm sets them)")
    .option('--shards <n>', 'number of shards (array tasks)', intOption(1, 100_000))
    .option('-o, --out <dir>', 'the run folder: scripts, logs/, parts/K, results/')
    .option('--partition <name>', "Slurm partition (default: the cluster's)")
    .option('--time <limit>', "wall-clock limit per task, e.g. 1:00:00 (before the command: after it, --time is the command's own)")
    .option('--mem <size>', 'memory per task, e.g. 4G')
    .option('--cpus-per-task <n>', 'cores per task (the shard runs that many worker threads)', intOption(1, 1024), 1)
    .option('--submit', 'submit the array and the merge job with sbatch and print their ids')
    .passThroughOptions()
    .allowUnknownOption()
    .action(async (command: string, words: string[], o) => {
      const { own, rest } = splitTrailing(words);
      // Two-word commands (correct eval): the study's name is both words.
      if (command === 'correct' && rest.length && !rest[0].startsWith('-')) command = `${command} ${rest.shift()}`;
      const shards = own['--shards'] !== undefined ? intOption(1, 100_000)(String(own['--shards'])) : o.shards;
      const out = (own['--out'] as string | undefined) ?? o.out;
      if (!shards) throw new XbarError('xbar slurm needs --shards N: how many array tasks to split the run into');
      if (!out) throw new XbarError('xbar slurm needs --out DIR: the folder for the scripts, the parts and the merged results');
      const opts = {
        shards,
        out,
        partition: (own['--partition'] as string | undefined) ?? o.partition,
        time: o.time,
        mem: (own['--mem'] as string | undefined) ?? o.mem,
        cpusPerTask: own['--cpus-per-task'] !== undefined ? intOption(1, 1024)(String(own['--cpus-per-task'])) : o.cpusPerTask,
      };
      checkCommand(command, rest, out);
      // The words a task runs (its shard given as 1/N: auto/N needs the array's environment).
      const task = [...command.split(' '), ...rest, ...coresFlag(command, rest, opts), '--shard', `1/${shards}`];
      await checkFlags(makeProgram, [...task, '--out', join(out, 'parts', '1')]);
      const launch = { node: process.execPath, xbar: realpathSync(process.argv[1]), cwd: process.cwd() };
      const r = slurmRun(command, rest, opts, launch, Boolean(own['--submit'] ?? o.submit));
      const l = layout(r.out);
      console.log(`wrote ${r.scripts.join(' and ')}`);
      if (r.done.length)
        console.log(`shards done: ${r.done.length} of ${shards}${r.missing.length ? `; to run: ${r.missing.join(', ')}` : ''}`);
      if (r.merged) console.log(`every shard is done and merged in ${l.results}`);
      else if (r.submitted)
        console.log(
          r.submitted.array
            ? `submitted ${r.submitted.prepare ? `prepare job ${r.submitted.prepare} (the shared steps, into ${l.prepared}), ` : ''}array job ${r.submitted.array} (shards ${r.submitted.shards.join(',')}) and merge job ${r.submitted.merge} after it; results in ${l.results}`
            : `submitted merge job ${r.submitted.merge}; results in ${l.results}`,
        );
      else
        console.log(
          r.scripts.includes(l.prepare)
            ? `submit with: xbar slurm ... --submit (or: sbatch --parsable ${l.prepare}, then sbatch --parsable --dependency=afterok:<its id> --kill-on-invalid-dep=yes ${l.array}, then sbatch --dependency=afterany:<that id> ${l.merge})`
            : `submit with: xbar slurm ... --submit (or: sbatch --parsable ${l.array}, then sbatch --dependency=afterany:<its id> ${l.merge})`,
        );
    });
}
