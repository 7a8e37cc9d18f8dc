#!/usr/bin/env node
/**
 * Builds the playground into site/ (a static site: any static host serves it; nothing is loaded
 * from elsewhere): esbuild bundles the page (playground/src/main.ts) and its Web Worker
 * (worker.ts) from xbar's TypeScript sources, and the shipped assets are copied beside them.
 * Prints the page weight: the scripts, HTML and CSS, raw and gzipped, without the assets.
 * Usage: node scripts/build-site.mjs [--out DIR] [--quiet]
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const outArg = args.indexOf('--out');
const out = resolve(outArg >= 0 ? args[outArg + 1] : join(root, 'site'));
const quiet = args.includes('--quiet');
const src = join(root, 'playground');
const tmp = `${out}.tmp-${process.pid}`;

function fail(msg) {
  console.error(`xbar: ${msg}`);
  process.exit(1);
}

const modelsDir = join(src, 'assets', 'models');
const models = existsSync(modelsDir)
  ? readdirSync(modelsDir)
      .filter((n) => existsSync(join(modelsDir, n, 'model.json')) && existsSync(join(modelsDir, n, 'weights.bin')))
      .map((name) => {
        const meta = JSON.parse(readFileSync(join(modelsDir, name, 'model.json'), 'utf8')).meta ?? {};
        return { name, dataset: meta.dataset, description: `${meta.dataset}, test accuracy ${(100 * meta.testAccuracy).toFixed(2)}%` };
      })
  : [];
const ORDER = ['mlp-paper', 'mlp', 'lenet5'];
models.sort((a, b) => (ORDER.indexOf(a.name) + 1 || 99) - (ORDER.indexOf(b.name) + 1 || 99) || a.name.localeCompare(b.name));
if (!models.length) fail(`no models in ${modelsDir}: run node scripts/make-playground-assets.mjs`);

rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp, { recursive: true });
try {
  await build({
    entryPoints: { main: join(src, 'src/main.ts'), worker: join(src, 'src/worker.ts') },
    outdir: tmp,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    minify: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
} catch (e) {
  rmSync(tmp, { recursive: true, force: true });
  fail(`bundling the playground failed: ${e.message.split('\n')[0]}`);
}
for (const f of ['index.html', 'style.css']) cpSync(join(src, f), join(tmp, f));
cpSync(join(src, 'assets'), join(tmp, 'assets'), { recursive: true });
writeFileSync(join(tmp, 'assets', 'manifest.json'), `${JSON.stringify({ models, data: 'assets/data/mnist' }, null, 2)}\n`);
// Swap in whole: a server never sees a half-built site.
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);

const page = readdirSync(out).filter((f) => !f.startsWith('assets'));
let raw = 0;
let gz = 0;
for (const f of page) {
  const b = readFileSync(join(out, f));
  raw += b.length;
  gz += gzipSync(b, { level: 9 }).length;
}
if (!quiet) {
  console.log(
    `built ${out}: page ${(raw / 1024).toFixed(0)} KB, ${(gz / 1024).toFixed(0)} KB gzipped (${page.join(', ')}), without assets`,
  );
  console.log(`models: ${models.map((m) => m.name).join(', ')}`);
}
