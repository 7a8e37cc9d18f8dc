// Where a serial xbar Monte Carlo chip spends its time: each native kernel (sgemm per shape,
// spmm, the variation draw, the clamp...) timed around its calls, and the rest (JS: programming
// a chip's weights, bias rows, classification). Same study as bench/montecarlo.mjs's `mlp`
// scenarios, on one thread.
// Usage: npm run build && node bench/mc-profile.mjs [--faults] [--chips N] [--range N] [--images N] [--model DIR]
//   --faults     the mlp-faults scenario (random sa0=1.75%, sa1=9.04%, sigma 0); default sigma 0.1
//   --chips N    chips timed after one warm-up chip (default 10)
//   --range N    run the chips in ranges of N, one runMonteCarlo call each, as a worker of the parallel
//                runner does (keeping one SharedWork across them); default: one call for all chips
//   --images N   test images (default 10000, as bench/montecarlo.mjs)
//   --model DIR  a trained mlp (default bench/.cache/mlp, which `node bench/montecarlo.mjs --only mlp-sigma` trains)
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = (p) => pathToFileURL(join(here, '..', 'dist', p)).href;
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
const faultsMode = argv.includes('--faults');
const chips = Number(option('--chips', 10));
const range = Number(option('--range', chips));
const images = Number(option('--images', 10000));
const modelDir = resolve(option('--model', join(here, '.cache/mlp')));
for (const [k, v] of Object.entries({ chips, range, images }))
  if (!(Number.isInteger(v) && v > 0)) {
    console.error(`--${k} must be a positive integer`);
    process.exit(1);
  }
if (!existsSync(join(here, '../dist/crossbar/montecarlo.js'))) {
  console.error('bench/mc-profile.mjs runs the compiled library: run `npm run build` first.');
  process.exit(1);
}
if (!existsSync(join(modelDir, 'model.json'))) {
  console.error(
    `no trained model in ${modelDir}: run \`node bench/montecarlo.mjs --only mlp-sigma\` once (it trains one there) or pass --model DIR`,
  );
  process.exit(1);
}

const { loadKernels } = await import(dist('core/kernels-node.js'));
const { loadModel } = await import(dist('nn/io-node.js'));
const { loadDataset } = await import(dist('data/node.js'));
const { resolveCircuit } = await import(dist('crossbar/circuit.js'));
const { planCrossbars } = await import(dist('crossbar/plan.js'));
const { runMonteCarlo } = await import(dist('crossbar/montecarlo.js'));
const { resolveDevice } = await import(dist('device/config.js'));
const { parseFaultSpec } = await import(dist('faults/index.js'));
const { chipBase, programChip } = await import(dist('crossbar/chip.js'));
// Absent before the shared work was kept across ranges (then each range redoes it): A/B against older builds.
const { SharedWork } = await import(dist('crossbar/shared-work.js')).catch(() => ({ SharedWork: null }));
const { loadavg } = await import('node:os');

const { model } = loadModel(modelDir);
const ds = loadDataset('mnist', { limitTest: images });
const native = loadKernels({ prefer: 'native', threads: 1 });
if (native.name !== 'native') {
  console.error('the native addon is not built: run `node scripts/build-native.mjs`');
  process.exit(1);
}
// The same kernels, each call timed; sgemm also per shape (m x n x k).
const ms = new Map();
const add = (key, t) => ms.set(key, (ms.get(key) ?? 0) + t);
const kernels = { ...native };
for (const [name, fn] of Object.entries(native))
  if (typeof fn === 'function' && !['setThreads', 'getThreads', 'config'].includes(name))
    kernels[name] = (...args) => {
      const t = performance.now();
      const r = fn(...args);
      const dt = performance.now() - t;
      add(name === 'sgemm' ? `sgemm ${args.slice(2, 5).join('x')}` : name, dt);
      return r;
    };

const circuit = resolveCircuit({});
const nCalib = Math.min(ds.train.n, circuit.calibrationImages);
const plan = planCrossbars(model, circuit, ds.train.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);
const dev = resolveDevice('reram-generic', { programSigma: faultsMode ? 0 : 0.1 });
const faults = faultsMode ? parseFaultSpec('random:sa0=0.0175,sa1=0.0904') : [];
runMonteCarlo(model, plan, dev, faults, ds.test, { chips: 1, seed: 1 }, kernels); // warm-up
ms.clear();
const load0 = loadavg()[0];
const t0 = performance.now();
const share = SharedWork ? new SharedWork() : undefined;
let correct = 0;
for (let c = 0; c < chips; c += range) {
  const part = runMonteCarlo(
    model,
    plan,
    dev,
    faults,
    ds.test,
    { chips: Math.min(range, chips - c), firstChip: c, seed: 1 },
    kernels,
    {},
    share,
  );
  for (const chip of part.chips) correct += chip.correct;
}
const total = performance.now() - t0;
const perChip = (t) => `${(t / chips).toFixed(2).padStart(7)} ms  ${((100 * t) / total).toFixed(1).padStart(5)}%`;
console.log(
  `${faultsMode ? 'mlp, faults' : 'mlp, sigma 0.1'}: ${chips} chips x ${ds.test.n} images, one thread, ranges of ${range}, ${(total / chips).toFixed(1)} ms per chip (mean accuracy ${((100 * correct) / chips / ds.test.n).toFixed(2)}%)`,
);
let kernelMs = 0;
for (const [k, t] of [...ms].sort((a, b) => b[1] - a[1])) {
  console.log(`  ${k.padEnd(22)} ${perChip(t)}`);
  kernelMs += t;
}
console.log(`  ${'rest (JS)'.padEnd(22)} ${perChip(total - kernelMs)}`);
// Programming alone (as the run does it, after it, so warm): the draw plus the JS that turns
// conductances into weights, which the rest above includes.
const base = chipBase(plan, dev);
ms.clear();
const t1 = performance.now();
for (let c = 0; c < chips; c++) programChip(plan, dev, faults, 1, c, { base, kernels, scratch: share?.programScratch });
const prog = performance.now() - t1;
const draw = (ms.get('lognormalPairs') ?? 0) + (ms.get('normalPairs') ?? 0);
console.log(`  of which programming   ${perChip(prog)}  (${(draw / chips).toFixed(2)} ms of it in the native draw)`);
console.log(
  `load average ${load0.toFixed(2)} at the start, ${loadavg()[0].toFixed(2)} at the end (2 vCPUs: above ~1 the timings include other processes)`,
);
