// GEMM throughput of xbar's kernels against tfjs-wasm, PyTorch and NumPy at the shapes xbar uses.
// Usage: npm run build && node bench/gemm.mjs [--json]
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBusy, peakRssMiB, timeit } from './lib/measure.mjs';
import { debInstalled, describeBlas, PEER_FIX, runPeer } from './lib/peer.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const json = process.argv.includes('--json');
const log = json ? () => {} : (...a) => console.error(...a); // progress on stderr keeps --json clean

const distKernels = join(here, '../dist/core/kernels-node.js');
if (!existsSync(distKernels)) {
  console.error('bench/gemm.mjs imports the compiled kernels: run `npm run build` first.');
  process.exit(1);
}
const { loadKernels, nativeUnavailableReason } = await import(distKernels);

// [m, k, n]: C (m x n) = A (m x k) B (k x n)
const SHAPES = [
  { name: '1024x784x256', m: 1024, k: 784, n: 256, note: 'MLP layer 1, 1024 images' },
  { name: '10000x784x256', m: 10000, k: 784, n: 256, note: 'MLP layer 1, MNIST test set' },
  { name: '256^3', m: 256, k: 256, n: 256, note: 'square' },
  { name: '128x784x256', m: 128, k: 784, n: 256, note: 'MLP layer 1, one training batch' },
  { name: '12800x150x16', m: 12800, k: 150, n: 16, note: 'LeNet-5 conv2 im2col, batch 128' },
];
const JS_BUDGET_MS = 20_000;

function rand(len) {
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) x[i] = Math.random() - 0.5;
  return x;
}
const inputs = SHAPES.map(({ m, k, n }) => ({ a: rand(m * k), b: rand(k * n), c: new Float32Array(m * n) }));

/** Row of seconds per call (undefined = skipped) for an sgemm implementation. */
function benchKernels(kernels, opts) {
  return SHAPES.map(({ m, k, n }, i) => {
    const { a, b, c } = inputs[i];
    return timeit(() => kernels.sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n), opts);
  });
}

async function benchTfjsWasm() {
  const tf = await import('@tensorflow/tfjs-core');
  const { setWasmPaths } = await import('@tensorflow/tfjs-backend-wasm');
  const require = createRequire(import.meta.url);
  // A file path prefix: the backend then reads the .wasm from node_modules instead of fetching it.
  setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`);
  if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const row = SHAPES.map(({ m, k, n }, i) => {
    const a = tf.tensor2d(inputs[i].a, [m, k]);
    const b = tf.tensor2d(inputs[i].b, [k, n]);
    const s = timeit(() => tf.tidy(() => tf.matMul(a, b)).dataSync(), { budgetMs: JS_BUDGET_MS });
    tf.dispose([a, b]);
    return s;
  });
  return { row, label: `tfjs-wasm 4.22${simd ? ' SIMD' : ' (no SIMD)'}, 1 thread` };
}

const rows = []; // { label, seconds: (number|undefined)[] }
const notes = [];
const busy = await cpuBusy();
if (busy > 0.1)
  notes.push(
    `WARNING: ${(busy * 100).toFixed(0)}% of the CPUs were busy before the bench started: other processes compete for the cores, so figures are low and noisy`,
  );

const nativeReason = nativeUnavailableReason();
if (nativeReason) {
  notes.push(`native kernels unavailable (${nativeReason}): run node scripts/build-native.mjs`);
} else {
  for (const threads of [1, 2]) {
    log(`native, ${threads} thread(s)...`);
    const k = loadKernels({ prefer: 'native', threads });
    rows.push({ label: `xbar native, ${threads} thread${threads > 1 ? 's' : ''}`, seconds: benchKernels(k) });
    if (threads === 1) notes.push(`xbar native: ${k.blas}`);
  }
}

// The Monte Carlo's first layer on real inputs: MNIST pixels are ~80% zeros, so xbar multiplies
// them as a sparse matrix (spmm) when at most 40% are nonzero. Same product, both ways.
let sparse;
if (!nativeReason) {
  const { loadDataset } = await import(join(here, '../dist/data/node.js'));
  const { toCsr } = await import(join(here, '../dist/core/kernels.js'));
  const x = loadDataset('mnist', { limitTrain: 1, limitTest: 1000 }).test.x;
  const [m, k, n] = [1000, 784, 256];
  const w = rand(k * n);
  const c = new Float32Array(m * n);
  const csr = toCsr(x, m, k);
  sparse = { density: csr.val.length / (m * k), rows: [] };
  // The Monte Carlo plans the batch's rows in pairs once (Kernels.pairRows) for all its chips.
  const planner = loadKernels({ prefer: 'native', threads: 1 });
  const t0 = performance.now();
  const pairs = planner.pairRows?.(m, k, csr) ?? undefined;
  sparse.planMs = performance.now() - t0;
  for (const threads of [1, 2]) {
    const kn = loadKernels({ prefer: 'native', threads });
    sparse.rows.push({
      threads,
      sgemm: timeit(() => kn.sgemm(false, false, m, n, k, 1, x, k, w, n, 0, c, n)),
      spmm: timeit(() => kn.spmm(m, n, k, csr, w, c)),
      paired: pairs ? timeit(() => kn.spmm(m, n, k, { ...csr, pairs }, w, c)) : null,
    });
  }
}

log('js kernels...');
rows.push({
  label: 'xbar js kernels',
  seconds: benchKernels(loadKernels({ prefer: 'js' }), { budgetMs: JS_BUDGET_MS, runs: 5 }),
});

log('tfjs-wasm...');
try {
  const { row, label } = await benchTfjsWasm();
  rows.push({ label, seconds: row });
} catch (e) {
  notes.push(`tfjs-wasm skipped: ${e.message} (npm install --save-dev @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm)`);
}

log('PyTorch and NumPy (python peer)...');
if (!debInstalled('libopenblas0-pthread'))
  notes.push(`libopenblas0-pthread is not installed: torch/numpy run on the reference BLAS. Fix: ${PEER_FIX}`);
const peer = runPeer(join(here, 'peers/torch_gemm.py'), [JSON.stringify(SHAPES.map((s) => [s.m, s.k, s.n]))]);
if (peer.error) notes.push(`python peer failed: ${peer.error}. Fix: ${PEER_FIX}`);
for (const [key, label] of [
  ['torch', 'PyTorch, 1 torch thread'],
  ['numpy', 'NumPy'],
]) {
  const p = peer[key];
  if (!p) continue;
  if (p.error) notes.push(`${key} unavailable (${p.error}). Fix: ${PEER_FIX}`);
  else rows.push({ label: `${label} ${p.version}`, seconds: p.results.map((r) => r.seconds), peer: key });
}
if (peer.blas) notes.push(`peer BLAS: ${describeBlas(peer.blas)}`);

const gflops = (s, { m, k, n }) => (s === undefined ? undefined : (2 * m * k * n) / s / 1e9);
const native2 = rows.find((r) => r.label === 'xbar native, 2 threads');
const torch = rows.find((r) => r.peer === 'torch');
const ratio = native2 && torch ? SHAPES.map((s, i) => gflops(native2.seconds[i], s) / gflops(torch.seconds[i], s)) : undefined;
const rss = { nodeMiB: peakRssMiB(), pythonMiB: peer.peakRssMiB };

if (json) {
  const results = rows.map((r) => ({
    implementation: r.label,
    shapes: SHAPES.map((s, i) => ({
      ...s,
      seconds: r.seconds[i] ?? null,
      gflops: gflops(r.seconds[i], s) ?? null,
    })),
  }));
  console.log(
    JSON.stringify(
      { results, ratioNative2ToTorch: ratio ?? null, sparseFirstLayer: sparse ?? null, peakRss: rss, cpuBusyAtStart: busy ?? null, notes },
      null,
      2,
    ),
  );
} else {
  const fmt = (x) => (x === undefined || Number.isNaN(x) ? 'skip' : x >= 10 ? x.toFixed(0) : x.toFixed(1));
  const table = [
    ['GFLOP/s, median (m x k x n)', ...SHAPES.map((s) => s.name)],
    ...rows.map((r) => [r.label, ...SHAPES.map((s, i) => fmt(gflops(r.seconds[i], s)))]),
  ];
  if (ratio) table.push(['ratio xbar native 2t / torch', ...ratio.map((x) => x.toFixed(2))]);
  const widths = table[0].map((_, j) => Math.max(...table.map((row) => row[j].length)));
  for (const row of table) console.log(row.map((c, j) => (j ? c.padStart(widths[j]) : c.padEnd(widths[j]))).join('  '));
  console.log(`\nshapes: ${SHAPES.map((s) => `${s.name} = ${s.note}`).join('; ')}`);
  console.log(`js kernels and tfjs skip a shape whose timed runs would exceed ${JS_BUDGET_MS / 1000} s.`);
  if (sparse)
    console.log(
      `\nfirst layer on 1000 MNIST test images (1000x784x256, ${(100 * sparse.density).toFixed(1)}% nonzero inputs), ms per product: ${sparse.rows
        .map(
          (r) =>
            `${r.threads} thread(s): sgemm ${(1e3 * r.sgemm).toFixed(2)}, spmm ${(1e3 * r.spmm).toFixed(2)} (${(r.sgemm / r.spmm).toFixed(2)}x)` +
            (r.paired ? `, spmm in row pairs ${(1e3 * r.paired).toFixed(2)} (${(r.spmm / r.paired).toFixed(2)}x over rows)` : ''),
        )
        .join('; ')}${sparse.rows[0].paired ? `; planning the pairs ${sparse.planMs.toFixed(1)} ms, once per batch` : ''}`,
    );
  console.log(`peak RSS: node ${rss.nodeMiB.toFixed(0)} MiB, python peer ${rss.pythonMiB?.toFixed(0) ?? '?'} MiB`);
  for (const n of notes) console.log(n);
}
