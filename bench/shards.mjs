// Two shards as two processes against one process on the same xbar simulate run (and against one
// process with two worker threads), wall-clock, with the merge; checks the merged chips equal.
// Usage: npm run build && node bench/shards.mjs [--model DIR] [--chips N] [--sweep KEY=VALUES] [--limit-test N] [--json]
//   --model DIR      a saved model (default: mlp-paper trained here on digits8 in a few seconds)
//   --chips N        chips per sweep point (default 64)
//   --sweep          default sigma=0.05,0.3
//   --limit-test N   test images (default: all)
//   --rounds R       repeat the three runs R times in turn and report medians (default 1): on a
//                    loaded machine the load moves between runs, and rounds spread it evenly
// Every process runs one worker thread, so two shards use two cores where one process uses one.
// The load average at the start is printed: on a shared machine the ratio is a loaded figure.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { median } from './lib/measure.mjs';
import { cliBench, printRunFooter } from './lib/processes.mjs';

const { bin, together, option, json, log, work } = cliBench('shards.mjs', 'xbar-bench-shards-');

let model = option('--model');
if (!model) {
  model = join(work, 'model');
  log('training mlp-paper on digits8 (a few seconds)...');
  const t = spawnSync(process.execPath, [bin, 'train', '-m', 'mlp-paper', '--epochs', '10', '--out', model, '--quiet'], {
    stdio: 'inherit',
  });
  if (t.status !== 0) process.exit(1);
}
const chips = option('--chips', '64');
const args = [
  'simulate',
  '-m',
  model,
  '--chips',
  chips,
  '--seed',
  '1',
  '--sweep',
  option('--sweep', 'sigma=0.05,0.3'),
  '--read-noise',
  '0.02',
];
if (option('--limit-test')) args.push('--limit-test', option('--limit-test'));

const load = loadavg()[0];
const cores = availableParallelism();
log(`${cores} cores, load average ${load.toFixed(1)}${load > cores / 2 ? ' (a loaded machine: the ratio is a loaded figure)' : ''}`);
log(`xbar ${args.join(' ')}: one process with one thread, with two threads, two shards with one thread each`);
const rounds = Number(option('--rounds', '1'));
const times = { one: [], threads: [], shards: [], merge: [] };
for (let r = 0; r < rounds; r++) {
  rmSync(join(work, 'parts'), { recursive: true, force: true });
  times.one.push(await together([[...args, '--workers', '1', '--out', join(work, 'one')]]));
  times.threads.push(await together([[...args, '--workers', '2', '--out', join(work, 'threads')]]));
  times.shards.push(
    await together([1, 2].map((k) => [...args, '--workers', '1', '--shard', `${k}/2`, '--out', join(work, 'parts', String(k))])),
  );
  times.merge.push(await together([['merge', join(work, 'parts'), '--out', join(work, 'merged')]]));
  log(
    `round ${r + 1}: ${times.one[r].seconds.toFixed(2)} s, ${times.threads[r].seconds.toFixed(2)} s, ${times.shards[r].seconds.toFixed(2)} s + merge ${times.merge[r].seconds.toFixed(2)} s`,
  );
}
const [one, threads, shards, merge] = [times.one, times.threads, times.shards, times.merge].map((runs) =>
  median(runs.map((t) => t.seconds)),
);
// Peak RSS of one process (a shard's is its own, not the two shards' sum): the largest over the rounds.
const peakRss = Object.fromEntries(Object.entries(times).map(([k, runs]) => [k, Math.max(...runs.map((t) => t.peakRssMiB))]));
const same = readFileSync(join(work, 'merged', 'chips.csv'), 'utf8') === readFileSync(join(work, 'one', 'chips.csv'), 'utf8');
if (!same) {
  console.error('the merged chips differ from the single-process run');
  process.exit(1);
}
const result = {
  cores,
  loadAverage: load,
  chipsPerPoint: Number(chips),
  rounds,
  loadAverageAtEnd: loadavg()[0],
  seconds: { oneProcess: one, oneProcessTwoThreads: threads, twoShards: shards, merge },
  peakRssMiB: peakRss,
  speedup: { twoShards: one / shards, twoShardsWithMerge: one / (shards + merge), twoThreads: one / threads },
};
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log(`one process:            ${one.toFixed(2)} s`);
  console.log(`one process, 2 threads: ${threads.toFixed(2)} s  (${(one / threads).toFixed(2)}x)`);
  console.log(
    `2 shards (2 processes): ${shards.toFixed(2)} s  (${(one / shards).toFixed(2)}x), merge ${merge.toFixed(2)} s (${(one / (shards + merge)).toFixed(2)}x with it)`,
  );
  printRunFooter(peakRss, rounds, load, cores);
}
