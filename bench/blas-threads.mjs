// Two facts about OpenBLAS as xbar uses it (docs/decisions.md, native/README.md), re-measured:
//  1. its bits depend on its thread count: outputs of one product on 1 and on 2 OpenBLAS threads that differ;
//  2. two worker threads calling sgemm at once (one OpenBLAS thread each), with OpenBLAS's scratch on huge
//     pages (the addon's default) and without (XBAR_NO_HUGE_PAGES=1, as before 2026-12-06): ms per call.
// Usage: npm run build && node bench/blas-threads.mjs [--calls N]   (--calls: timed calls per measurement, default 300)
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const here = dirname(fileURLToPath(import.meta.url));
const distKernels = join(here, '../dist/core/kernels-node.js');
if (!existsSync(distKernels)) {
  console.error('bench/blas-threads.mjs imports the compiled kernels: run `npm run build` first.');
  process.exit(1);
}
const { loadKernels } = await import(distKernels);
const { Rng } = await import(join(here, '../dist/core/rng.js'));
const [M, N, K] = [1000, 128, 256]; // the mlp's second layer on a batch of 1000 images

/** Deterministic operands (xbar's seeded Rng): A with ~40% zeros (after a clamp), B and C in [-0.5, 0.5). */
function operands(m, n, k, seed) {
  const rng = new Rng(seed);
  const next = () => rng.uniform() - 0.5;
  const a = Float32Array.from({ length: m * k }, () => Math.max(0, next() + 0.1));
  const b = Float32Array.from({ length: k * n }, next);
  const c = Float32Array.from({ length: m * n }, next);
  return { a, b, c };
}

/** ms per sgemm call over `calls` calls, one OpenBLAS thread. */
function timeCalls(calls) {
  const k = loadKernels({ prefer: 'native', threads: 1 });
  const { a, b, c } = operands(M, N, K, 7);
  for (let i = 0; i < 5; i++) k.sgemm(false, false, M, N, K, 1, a, K, b, N, 1, c, N);
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) k.sgemm(false, false, M, N, K, 1, a, K, b, N, 1, c, N);
  return (performance.now() - t0) / calls;
}

if (!isMainThread) {
  parentPort.postMessage(timeCalls(workerData.calls));
} else if (process.argv.includes('--child')) {
  // One process per page setting (the advice is taken when the addon loads): alone, then two at once.
  const calls = Number(process.argv[process.argv.indexOf('--calls') + 1]);
  const alone = timeCalls(calls);
  const url = new URL(import.meta.url);
  const two = await Promise.all(
    [0, 1].map(
      () =>
        new Promise((resolve, reject) => {
          const w = new Worker(url, { workerData: { calls } });
          w.once('message', resolve);
          w.once('error', reject);
        }),
    ),
  );
  console.log(JSON.stringify({ alone, two }));
} else {
  const calls = Number(process.argv.includes('--calls') ? process.argv[process.argv.indexOf('--calls') + 1] : 300);
  if (!(Number.isInteger(calls) && calls > 0)) {
    console.error('--calls must be a positive integer');
    process.exit(1);
  }
  console.log('1. outputs that differ between 1 and 2 OpenBLAS threads (C += A B, A with ~40% zeros):');
  for (const [m, n, k] of [
    [1000, 128, 256],
    [1000, 64, 128],
    [1000, 10, 64],
    [1000, 256, 784],
  ]) {
    const { a, b, c } = operands(m, n, k, m + n + k);
    const out = [1, 2].map((threads) => {
      const y = c.slice();
      loadKernels({ prefer: 'native', threads }).sgemm(false, false, m, n, k, 1, a, k, b, n, 1, y, n);
      return new Uint32Array(y.buffer);
    });
    let differ = 0;
    for (let i = 0; i < out[0].length; i++) if (out[0][i] !== out[1][i]) differ++;
    console.log(`   ${m} x ${n} x ${k}: ${differ} of ${m * n} (${((100 * differ) / (m * n)).toFixed(1)}%)`);
  }
  console.log(`2. sgemm ${M} x ${N} x ${K}, one OpenBLAS thread, ms per call (${calls} calls; two worker threads at once):`);
  for (const [name, env] of [
    ['huge pages (default)', {}],
    ['4 KB pages (XBAR_NO_HUGE_PAGES=1)', { XBAR_NO_HUGE_PAGES: '1' }],
  ]) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', '--calls', String(calls)], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      console.error(`   ${name}: the child failed: ${r.stderr.trim().split('\n').pop()}`);
      process.exit(1);
    }
    const { alone, two } = JSON.parse(r.stdout);
    console.log(`   ${name}: alone ${alone.toFixed(2)}; two at once ${two.map((t) => t.toFixed(2)).join(' and ')}`);
  }
}
