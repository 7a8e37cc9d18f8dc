// A frozen convolution's input gradient two ways (per-chip calibration trains modules through a
// chip's fixed layers): Kernels.convInputGrad (native/convgrad.c, window by window, zeros of dy
// skipped) against the GEMM dy W^T into unrolled rows and col2im, on one thread, for layer shapes of
// LeNet-5 and a small VGG, with 75%, 50% and no exact zeros in dy (max pooling passes one value of
// four, a ReLU about half). Milliseconds per batch of 64 images, medians; what Conv2d's choice
// (CONV_INPUT_GRAD_MAX_FILTERS, CONV_INPUT_GRAD_MIN_ROW in src/nn/conv.ts) rests on.
// Usage: npm run build && node bench/conv-input-grad.mjs
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const distKernels = join(here, '../dist/core/kernels-node.js');
if (!existsSync(distKernels)) {
  console.error('bench/conv-input-grad.mjs imports the compiled kernels: run `npm run build` first.');
  process.exit(1);
}
const { loadKernels, nativeUnavailableReason } = await import(distKernels);
const why = nativeUnavailableReason();
if (why) {
  console.error(`bench/conv-input-grad.mjs times the native kernels, which are unavailable: ${why}`);
  process.exit(1);
}
const { Rng } = await import(join(here, '../dist/core/rng.js'));
const k = loadKernels({ threads: 1 });
const SHAPES = [
  ['lenet5 conv2', { batch: 64, h: 14, w: 14, c: 6, k: 5, stride: 1, pad: 0, oh: 10, ow: 10 }, 16],
  ['vgg 3x3 64', { batch: 64, h: 16, w: 16, c: 64, k: 3, stride: 1, pad: 1, oh: 16, ow: 16 }, 64],
  ['vgg 3x3 128', { batch: 64, h: 8, w: 8, c: 128, k: 3, stride: 1, pad: 1, oh: 8, ow: 8 }, 128],
  ['3 channels', { batch: 64, h: 32, w: 32, c: 3, k: 3, stride: 1, pad: 1, oh: 32, ow: 32 }, 32],
];
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const time = (fn) => {
  fn();
  const runs = [];
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    fn();
    runs.push(performance.now() - t);
  }
  return median(runs);
};
console.log('| layer | zeros in dy | convInputGrad ms | GEMM + col2im ms | ratio |');
console.log('|---|---|---|---|---|');
const rng = new Rng(1);
for (const [name, g, f] of SHAPES)
  for (const zeros of [0.75, 0.5, 0]) {
    const rowLen = g.k * g.k * g.c;
    const rows = g.batch * g.oh * g.ow;
    const dy = Float32Array.from({ length: rows * f }, () => (rng.uniform() < zeros ? 0 : rng.uniform() - 0.5));
    const w = Float32Array.from({ length: rowLen * f }, () => rng.uniform() - 0.5);
    const dx = new Float32Array(g.batch * g.h * g.w * g.c);
    const dcols = new Float32Array(rows * rowLen);
    const fused = time(() => k.convInputGrad(dy, g, w, dx));
    const gemm = time(() => {
      k.sgemm(false, true, rows, rowLen, f, 1, dy, f, w, f, 0, dcols, rowLen);
      dx.fill(0);
      k.col2im(dcols, g, dx);
    });
    console.log(
      `| ${name} (${rowLen}-float rows, ${f} filters) | ${zeros * 100}% | ${fused.toFixed(2)} | ${gemm.toFixed(2)} | ${(gemm / fused).toFixed(2)}x |`,
    );
  }
