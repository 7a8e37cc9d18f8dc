// correctnet's chip evaluations (every method's sweep and the per-chip calibrations) as one process
// against two shards as two processes, wall-clock, both reusing one --prepare run (whose time is
// printed apart: the cluster runs it once, before the shards), and the merge; checks the merged
// study equals the single process's (every chip's accuracy).
// Usage: npm run build && node bench/correctnet-shards.mjs [--model PRESET] [--chips N] [--calibrate-chips N] [--rounds R] [--json]
//   --model PRESET        default mlp-paper (digits8: seconds); mlp is the paper's network (MNIST, ~16 s per calibrated chip)
//   --chips N             sweep chips per point (default 40)
//   --calibrate-chips N   calibrated chips per column (default 16)
//   --rounds R            repeat R times in turn and report medians (default 1)
// Every process runs one worker thread, so two shards use two cores where one process uses one.
// The load average at the start is printed: on a shared machine the ratio is a loaded figure.
import { readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { median } from './lib/measure.mjs';
import { cliBench, printRunFooter } from './lib/processes.mjs';

const { together, option, json, log, work } = cliBench('correctnet-shards.mjs', 'xbar-bench-cn-shards-');

const model = option('--model', 'mlp-paper');
const small = model === 'mlp-paper';
const args = [
  'correctnet',
  '-m',
  model,
  // The small network's modules need a larger budget share (as in the tests).
  ...(small ? ['--plain-epochs', '10', '--budget', '0.5', '--ranks', '1'] : []),
  ...['--finetune-epochs', '1', '--comp-epochs', '1', '--episodes', '16', '--search', 'rl', '--search-chips', '2'],
  ...['--sigmas', '0.3,0.6,1', '--target-sigma', '0.6', '--chips', option('--chips', '40'), '--read-noise', '0.02'],
  ...['--calibrate', small ? '1000' : '5000', '--calibrate-chips', option('--calibrate-chips', '16'), '--calibrate-epochs', '5'],
  '--seed',
  '1',
];

const load = loadavg()[0];
const cores = availableParallelism();
log(`${cores} cores, load average ${load.toFixed(1)}${load > cores / 2 ? ' (a loaded machine: the ratio is a loaded figure)' : ''}`);
log(`xbar ${args.join(' ')}`);
const prepared = join(work, 'prepared');
const prepareRun = await together([[...args, '--workers', '1', '--prepare', '--out', prepared]]);
const prepare = prepareRun.seconds;
log(`--prepare (the shared steps, once): ${prepare.toFixed(2)} s`);
const reuse = ['--reuse', prepared, '--workers', '1'];
const rounds = Number(option('--rounds', '1'));
const times = { one: [], shards: [], merge: [] };
for (let r = 0; r < rounds; r++) {
  for (const d of ['one', 'parts', 'merged']) rmSync(join(work, d), { recursive: true, force: true });
  times.one.push(await together([[...args, ...reuse, '--out', join(work, 'one')]]));
  times.shards.push(await together([1, 2].map((k) => [...args, ...reuse, '--shard', `${k}/2`, '--out', join(work, 'parts', String(k))])));
  times.merge.push(await together([['merge', join(work, 'parts'), '--out', join(work, 'merged')]]));
  log(
    `round ${r + 1}: one process ${times.one[r].seconds.toFixed(2)} s, two shards ${times.shards[r].seconds.toFixed(2)} s + merge ${times.merge[r].seconds.toFixed(2)} s`,
  );
}
const [one, shards, merge] = [times.one, times.shards, times.merge].map((runs) => median(runs.map((t) => t.seconds)));
// Peak RSS of one process (a shard's is its own, not the two shards' sum): the largest over the rounds.
const peakRss = Object.fromEntries(Object.entries(times).map(([k, runs]) => [k, Math.max(...runs.map((t) => t.peakRssMiB))]));
peakRss.prepare = prepareRun.peakRssMiB;
const chips = (dir) =>
  JSON.stringify(JSON.parse(readFileSync(join(work, dir, 'results.json'), 'utf8')).methods.map((m) => m.sweep.map((p) => p.accuracies)));
if (chips('merged') !== chips('one')) {
  console.error('the merged chips differ from the single-process run');
  process.exit(1);
}
const result = {
  cores,
  loadAverage: load,
  model,
  args,
  rounds,
  loadAverageAtEnd: loadavg()[0],
  seconds: { prepare, oneProcess: one, twoShards: shards, merge },
  peakRssMiB: peakRss,
  speedup: { twoShards: one / shards, twoShardsWithMerge: one / (shards + merge) },
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`--prepare (once):       ${prepare.toFixed(2)} s`);
  console.log(`one process:            ${one.toFixed(2)} s`);
  console.log(
    `2 shards (2 processes): ${shards.toFixed(2)} s  (${(one / shards).toFixed(2)}x), merge ${merge.toFixed(2)} s (${(one / (shards + merge)).toFixed(2)}x with it)`,
  );
  printRunFooter(peakRss, rounds, load, cores);
}
