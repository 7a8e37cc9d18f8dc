// The direct convolution kernel (Kernels.conv2d, native/conv.c) on the layer shapes of the networks
// the Monte Carlo bench runs: GFLOP/s per layer (2 * outputs * window terms per second), 1 and 2 threads.
// Usage: npm run build && node bench/conv.mjs [--images N] [--json]
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuBusy, peakRssMiB, timeit } from './lib/measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const at = args.indexOf('--images');
const images = at >= 0 ? Number(args[at + 1]) : 500;
if (!Number.isInteger(images) || images < 1) {
  console.error(`--images must be a positive integer, not ${args[at + 1]}`);
  process.exit(1);
}
const distKernels = join(here, '../dist/core/kernels-node.js');
if (!existsSync(distKernels)) {
  console.error('bench/conv.mjs imports the compiled kernels: run `npm run build` first.');
  process.exit(1);
}
const { loadKernels, nativeUnavailableReason } = await import(distKernels);
const why = nativeUnavailableReason();
if (why) {
  console.error(`bench/conv.mjs times the native kernel, which is unavailable: ${why}`);
  process.exit(1);
}

// [name, h, w, c, k, stride, pad, filters, what]
const LAYERS = [
  ['resnet stem', 28, 28, 1, 3, 1, 1, 8, 'single channel, 8 filters'],
  ['resnet block 0', 28, 28, 8, 3, 1, 1, 8, '8 -> 8 channels (x2 per block)'],
  ['resnet block 1 c1', 28, 28, 8, 3, 2, 1, 16, 'stride 2'],
  ['resnet 16 -> 16', 14, 14, 16, 3, 1, 1, 16, 'block 1 c2, block 2 (x3 in all)'],
  ['resnet projection', 28, 28, 8, 1, 2, 0, 16, '1x1 shortcut, stride 2'],
  ['resnet block 3 c1', 14, 14, 16, 3, 2, 1, 32, 'stride 2'],
  ['resnet 32 -> 32', 7, 7, 32, 3, 1, 1, 32, 'block 3 c2'],
  ['lenet5 conv1', 28, 28, 1, 5, 1, 2, 6, 'single channel, 6 filters'],
  ['lenet5 conv2', 14, 14, 6, 5, 1, 0, 16, '6 -> 16 channels, no padding'],
];

// A fixed pseudo-random fill: half the inputs zero, as after a ReLU.
function fill(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 32 - 0.5;
  }
  return a;
}

const busy = await cpuBusy();
const rows = [];
for (const [name, h, w, c, k, stride, pad, n, what] of LAYERS) {
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const g = { batch: images, h, w, c, k, stride, pad, oh, ow };
  const x = fill(images * h * w * c, 1).map((v) => Math.max(v, 0));
  const wt = fill(k * k * c * n, 2);
  const bias = fill(n, 3);
  const y = new Float32Array(images * oh * ow * n);
  const flops = 2 * images * oh * ow * n * k * k * c;
  const row = { name, what, shape: `${h}x${w}x${c} k${k} s${stride} p${pad} -> ${oh}x${ow}x${n}` };
  for (const threads of [1, 2]) {
    const kernels = loadKernels({ prefer: 'native', threads });
    const s = timeit(() => kernels.conv2d(x, g, wt, bias, y, { lo: 0 }), { runs: 9 });
    row[`ms${threads}`] = s * 1000;
    row[`gflops${threads}`] = flops / s / 1e9;
  }
  rows.push(row);
}
if (json) console.log(JSON.stringify({ images, cpuBusyBefore: busy, peakRssMiB: peakRssMiB(), rows }));
else {
  console.log(`conv2d on ${images} images (medians of 9; GFLOP/s = 2 * outputs * window terms / s; ReLU clamp fused)`);
  console.log('layer               shape                              1 thread ms  GFLOP/s   2 threads ms  GFLOP/s');
  for (const r of rows)
    console.log(
      `${r.name.padEnd(19)} ${r.shape.padEnd(34)} ${r.ms1.toFixed(2).padStart(11)} ${r.gflops1.toFixed(1).padStart(8)} ${r.ms2.toFixed(2).padStart(14)} ${r.gflops2.toFixed(1).padStart(8)}`,
    );
  const busyText = busy === undefined ? 'unknown' : `${Math.round(busy * 100)}%`;
  console.log(`CPUs busy before the start: ${busyText}; peak RSS ${peakRssMiB().toFixed(0)} MiB; see native/conv.c for the kernels`);
}
