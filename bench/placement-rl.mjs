// Sample efficiency of the REINFORCE placement agent on the toy problem with a known optimum
// (src/mitigation/correctnet/placement-toy.ts): for a few episode budgets, batch sizes (episodes per policy
// update) and learning rates, over many seeds, how often the best configuration sampled and the
// policy's own most probable configuration are the optimum, and how many distinct evaluations it
// took. It is the guide for --episodes / --rl-batch / --rl-lr when evaluations are costly.
// Usage: npm run build && node bench/placement-rl.mjs [--seeds 20] [--json]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const seeds = arg('--seeds', 20);
if (!Number.isInteger(seeds) || seeds < 1) {
  console.error('--seeds takes a whole number of at least 1');
  process.exit(1);
}
const dist = join(here, '../dist/mitigation/correctnet');
if (!existsSync(join(dist, 'placement-toy.js'))) {
  console.error('bench/placement-rl.mjs imports the compiled library: run `npm run build` first.');
  process.exit(1);
}
const { reinforcePlacement } = await import(join(dist, 'placement.js'));
const { TOY_OPTIMUM, toyPlacementProblem } = await import(join(dist, 'placement-toy.js'));

const optimum = TOY_OPTIMUM.join(',');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rows = [];
for (const episodes of [64, 200])
  for (const batch of [16, 8, 4])
    for (const lr of [0.1, 0.3]) {
      const runs = [];
      for (let seed = 1; seed <= seeds; seed++) runs.push(await reinforcePlacement(toyPlacementProblem(), { episodes, batch, lr, seed }));
      rows.push({
        episodes,
        batch,
        lr,
        bestIsOptimum: runs.filter((r) => r.best.config.join(',') === optimum).length / seeds,
        policyIsOptimum: runs.filter((r) => r.policy.config.join(',') === optimum).length / seeds,
        medianEvaluations: median(runs.map((r) => r.evaluations)),
      });
    }
if (process.argv.includes('--json')) console.log(JSON.stringify({ seeds, rows }, null, 1));
else {
  console.log(`REINFORCE on the toy placement problem (optimum ${optimum}), ${seeds} seeds per row`);
  console.log('| episodes | batch | lr | best sampled = optimum | policy = optimum | median evaluations |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.episodes} | ${r.batch} | ${r.lr} | ${(100 * r.bestIsOptimum).toFixed(0)}% | ${(100 * r.policyIsOptimum).toFixed(0)}% | ${r.medianEvaluations} |`,
    );
}
