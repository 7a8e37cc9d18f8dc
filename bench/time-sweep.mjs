// Cost of a time sweep: N chips read at 5 times after programming (one programming, aged 5 times)
// against the same N chips read at one time, and against 5 separate runs (reprogramming each time).
// Usage: npm run build && node bench/time-sweep.mjs [--model DIR] [--chips N] [--device NAME] [--limit-test N] [--no-separate] [--json]
//   --model DIR      a saved model (default: mlp-paper trained here on digits8 in a few seconds)
//   --chips N        chips (default 100)
//   --device NAME    a device preset with a time model (default pcm-joshi2020)
//   --limit-test N   test images (default: all)
//   --no-separate    skip the 5 separate runs (the sweep / one time ratio needs only the first two)
// One thread, in this process: seconds are wall time and this process's CPU time (user + system), the
// latter less sensitive to a loaded machine. Label figures measured on a shared machine as such.
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { peakRssMiB } from './lib/measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;
const argv = process.argv.slice(2);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};
if (!existsSync(join(root, 'dist/crossbar/montecarlo.js'))) {
  console.error('bench/time-sweep.mjs runs the compiled library: run `npm run build` first.');
  process.exit(1);
}
const { loadKernels } = await import(dist('core/kernels-node.js'));
const { loadModel } = await import(dist('nn/io-node.js'));
const { buildModel } = await import(dist('nn/model.js'));
const { presets } = await import(dist('nn/presets.js'));
const { train } = await import(dist('nn/train.js'));
const { loadDataset } = await import(dist('data/node.js'));
const { resolveCircuit } = await import(dist('crossbar/circuit.js'));
const { planCrossbars } = await import(dist('crossbar/plan.js'));
const { runMonteCarlo } = await import(dist('crossbar/montecarlo.js'));
const { resolveDevice } = await import(dist('device/config.js'));

const chips = Number(option('--chips', '100'));
const device = resolveDevice(option('--device', 'pcm-joshi2020'));
const limitTest = option('--limit-test') ? Number(option('--limit-test')) : undefined;
const kernels = loadKernels({ threads: 1 });
let model;
let dataset;
const dir = option('--model');
if (dir) {
  const m = loadModel(dir);
  model = m.model;
  dataset = m.file.meta.dataset;
} else {
  dataset = 'digits8';
  model = buildModel(presets['mlp-paper'].spec, 1);
  const ds = loadDataset('digits8');
  train(model, ds.train, null, { ...presets['mlp-paper'].training, epochs: 8, seed: 1 }, kernels);
}
const ds = loadDataset(dataset, { limitTest });
const circuit = resolveCircuit({});
const nCalib = Math.min(ds.train.n, circuit.calibrationImages);
const plan = planCrossbars(model, circuit, ds.train.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);

const TIMES = [1, 3600, 86400, 30 * 86400, 365 * 86400];
const measure = (fn) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const r = fn();
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6, r };
};
const run = (times) =>
  runMonteCarlo(model, plan, device, [], ds.test, { chips, seed: 1, reads: times.map((t) => ({ t, compensation: 'global' })) }, kernels);
const load = loadavg()[0];
const one = measure(() => run([3600]));
const sweep = measure(() => run(TIMES));
const separate = argv.includes('--no-separate') ? null : measure(() => TIMES.map((t) => run([t])));
const out = {
  model: dir ?? 'mlp-paper (digits8, trained here)',
  dataset,
  images: ds.test.n,
  chips,
  device: device.name,
  times: TIMES,
  loadAverage: load,
  oneTime: { wall: one.wall, cpu: one.cpu },
  sweep5: { wall: sweep.wall, cpu: sweep.cpu },
  separate5: separate && { wall: separate.wall, cpu: separate.cpu },
  sweepOverOne: sweep.cpu / one.cpu,
  separateOverOne: separate && separate.cpu / one.cpu,
  peakRssMiB: peakRssMiB(),
};
if (argv.includes('--json')) console.log(JSON.stringify(out, null, 2));
else {
  console.log(`${chips} chips of ${out.model} on ${device.name}, ${ds.test.n} test images, 1 thread (load average ${load.toFixed(1)})`);
  for (const [k, v] of [
    ['1 time', one],
    ['5 times, one sweep', sweep],
    ['5 separate runs', separate],
  ])
    if (v) console.log(`${k.padEnd(20)} ${v.wall.toFixed(2).padStart(8)} s wall ${v.cpu.toFixed(2).padStart(8)} s CPU`);
  console.log(
    `sweep / one time: ${out.sweepOverOne.toFixed(2)}x CPU${separate ? `; separate runs / one time: ${out.separateOverOne.toFixed(2)}x CPU` : ''}; peak RSS ${Math.round(out.peakRssMiB)} MiB`,
  );
}
