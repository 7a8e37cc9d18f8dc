// Per-chip calibration time (docs/correctnet.md's settings: modules after every layer from
// calibrationSites(ranks 4,16, budget 5%), Adam lr 0.003, batch 64, 20 epochs, the first N training
// images, rails on the simulator's calibration images) of this checkout against a baseline checkout
// (e.g. main) in the same run, interleaved, each repetition a fresh process; plus each calibrated
// chip's accuracy in software (calibratedChipAccuracy) on the first --test images, to show that the
// faster path calibrates as well.
//
// Usage: npm run build && node bench/calibration.mjs [--baseline DIR] [--images N] [--chips N] [--epochs E]
//                                                   [--test N] [--reps R] [--only mlp,lenet5] [--threads T] [--cache DIR]
//   --baseline DIR  another xbar checkout with dist/ and build/ (the addon) built, e.g. main:
//                     git worktree add --detach /tmp/xbar-main main && cd /tmp/xbar-main &&
//                     ln -s "$OLDPWD/node_modules" . && npx tsc -p tsconfig.build.json && node scripts/build-native.mjs
//   --images N      labelled images per chip (default 20000, the documented setting)
//   --chips N       chips per measurement (default 2), chips 0..N-1 of seed 1
//   --threads T     OpenBLAS threads (default 1, as `xbar correctnet --threads 1` in the docs)
//   --cache DIR     where the trained models are (default bench/.cache): DIR/mlp, DIR/lenet5
// The models are the Monte Carlo bench's (bench/.cache/<preset>, trained by bench/montecarlo.mjs or
// `xbar train --model <preset> --out bench/.cache/<preset>`). Progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, peakRssMiB } from './lib/measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};

// ---------------------------------------------------------------------------------------------
// Child: one checkout, one scenario, `chips` chips calibrated one after the other. JSON on stdout.
// ---------------------------------------------------------------------------------------------
if (argv.includes('--child')) {
  const job = JSON.parse(option('--child'));
  const dist = (p) => pathToFileURL(join(job.root, 'dist', p)).href;
  const { loadKernels } = await import(dist('core/kernels-node.js'));
  const { loadModel } = await import(dist('nn/io-node.js'));
  const { loadDataset } = await import(dist('data/node.js'));
  const { resolveDevice } = await import(dist('device/config.js'));
  const { resolveCircuit } = await import(dist('crossbar/circuit.js'));
  const cal = await import(dist('mitigation/correctnet/calibration.js'));
  const { withCompensation } = await import(dist('mitigation/correctnet/compensation.js'));
  const kernels = loadKernels({ threads: job.threads });
  const { model: base } = loadModel(job.modelDir);
  const ds = loadDataset('mnist', { limitTrain: job.images, limitTest: job.test });
  const circuit = resolveCircuit({});
  const nRails = Math.min(ds.train.n, circuit.calibrationImages);
  const rails = { x: ds.train.x.subarray(0, nRails * base.inputSize), n: nRails };
  const device = resolveDevice('reram-generic', { programSigma: job.sigma });
  const sites = cal.calibrationSites(base, [4, 16], 1, 0.05);
  const seconds = [];
  // CPU seconds too: on a loaded machine they wait less on the others than the wall time does.
  const cpuSeconds = [];
  const accuracy = [];
  for (let c = 0; c < job.chips; c++) {
    // As `xbar correctnet --calibrate`: the modules start from withCompensation(base, sites, seed + 31).
    const m = withCompensation(base, sites, 32);
    const cfg = { epochs: job.epochs, batchSize: 64, lr: 0.003, device, seed: 1, chip: c, trainSeed: 38 + c, rails };
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const r = cal.calibrateChip(m, ds.train, cfg, kernels);
    seconds.push((performance.now() - t0) / 1000);
    const used = process.cpuUsage(c0);
    cpuSeconds.push((used.user + used.system) / 1e6);
    accuracy.push(cal.calibratedChipAccuracy(m, ds.test, r, cfg, kernels));
  }
  console.log(JSON.stringify({ seconds, cpuSeconds, accuracy, peakRssMiB: peakRssMiB(), kernels: kernels.name }));
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Parent.
// ---------------------------------------------------------------------------------------------
const images = Number(option('--images', 20000));
const chips = Number(option('--chips', 2));
const epochs = Number(option('--epochs', 20));
const test = Number(option('--test', 2000));
const reps = Number(option('--reps', 1));
const threads = Number(option('--threads', 1));
for (const [k, v] of Object.entries({ images, chips, epochs, test, reps, threads }))
  if (!(Number.isInteger(v) && v > 0)) {
    console.error(`--${k} must be a positive integer`);
    process.exit(1);
  }
const baseline = option('--baseline');
const checkouts = [{ name: 'this', root }, ...(baseline ? [{ name: 'baseline', root: resolve(baseline) }] : [])];
for (const c of checkouts)
  if (!existsSync(join(c.root, 'dist/mitigation/correctnet/calibration.js'))) {
    console.error(`${c.root} has no dist/: run npx tsc -p tsconfig.build.json there first (see the usage at the top of this file)`);
    process.exit(1);
  }
// The documented target sigmas (docs/correctnet.md): where the plain network falls below 20%.
const SCENARIOS = [
  { key: 'mlp', preset: 'mlp', sigma: 1.2 },
  { key: 'lenet5', preset: 'lenet5', sigma: 1.0 },
];
const only = option('--only')?.split(',');
const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.key));
const cache = resolve(option('--cache', join(here, '.cache')));
for (const s of scenarios)
  if (!existsSync(join(cache, s.preset, 'model.json'))) {
    console.error(
      `no trained ${s.preset} in ${cache}: xbar train --model ${s.preset} --out ${join(cache, s.preset)} (or run bench/montecarlo.mjs once)`,
    );
    process.exit(1);
  }

console.error(
  `load average at start: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
const rows = [];
for (const s of scenarios) {
  const runs = Object.fromEntries(checkouts.map((c) => [c.name, []]));
  for (let r = 0; r < reps; r++)
    for (const c of checkouts) {
      const job = { root: c.root, modelDir: join(cache, s.preset), images, chips, epochs, test, threads, sigma: s.sigma };
      console.error(`${s.key} ${c.name} (rep ${r + 1}/${reps})...`);
      const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(job)], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 24,
      });
      if (p.status !== 0) {
        console.error(`${s.key} on ${c.root} failed (exit ${p.status})`);
        process.exit(1);
      }
      runs[c.name].push(JSON.parse(p.stdout.trim().split('\n').pop()));
    }
  const perChip = (name) => median(runs[name].flatMap((x) => x.seconds));
  const cpuPerChip = (name) => median(runs[name].flatMap((x) => x.cpuSeconds ?? []));
  const acc = (name) => runs[name].flatMap((x) => x.accuracy);
  const meanSd = (xs) => {
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1)) : 0;
    return `${(100 * m).toFixed(2)}% +- ${(100 * sd).toFixed(2)}`;
  };
  rows.push({
    scenario: `${s.key}, sigma ${s.sigma}, ${images} images, ${epochs} epochs`,
    cells: checkouts.map(
      (c) =>
        `${perChip(c.name).toFixed(2)} s/chip (CPU ${cpuPerChip(c.name).toFixed(2)} s), ${meanSd(acc(c.name))}, peak RSS ${Math.round(Math.max(...runs[c.name].map((x) => x.peakRssMiB)))} MiB`,
    ),
    speedup: baseline ? perChip('baseline') / perChip('this') : null,
    cpuSpeedup: baseline ? cpuPerChip('baseline') / cpuPerChip('this') : null,
  });
}
console.log(`| scenario | ${checkouts.map((c) => `${c.name} (${c.root})`).join(' | ')} |${baseline ? ' speed-up (CPU) |' : ''}`);
console.log(`|---|${checkouts.map(() => '---|').join('')}${baseline ? '---|' : ''}`);
for (const r of rows)
  console.log(`| ${r.scenario} | ${r.cells.join(' | ')} |${baseline ? ` ${r.speedup.toFixed(2)}x (${r.cpuSpeedup.toFixed(2)}x) |` : ''}`);
console.log(
  `(chips 0..${chips - 1} of seed 1, accuracy on the first ${test} test images; load average at end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')})`,
);
