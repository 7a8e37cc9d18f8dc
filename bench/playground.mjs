// The playground's speed in headless Chromium against Node: chip-images per second of the same
// simulation (model, device, defects, seed) in the page's Web Worker (portable JS kernels), in
// Node with the same JS kernels, and in Node with the native OpenBLAS kernels (one thread, one
// worker: like for like with the page's single worker); and, for mlp-paper, the time from
// pressing "Run chips" to the first chip's result (worker start, model and data opened, crossbars
// planned, first chips simulated). Also checks that the three give the same accuracy.
// Usage: npm run build && node bench/playground.mjs [--json] [--models mlp-paper,mlp,lenet5]
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveStatic } from '../scripts/static-server.mjs';
import { cpuBusy } from './lib/measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const json = process.argv.includes('--json');
const log = json ? () => {} : (...a) => console.error(...a);
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
if (!existsSync(join(root, 'dist/report/browser.js'))) {
  console.error('bench/playground.mjs uses the compiled CLI: run `npm run build` first.');
  process.exit(1);
}
const { CHROMIUM_ARGS, chromiumPath } = await import(join(root, 'dist/report/browser.js'));
if (!existsSync(chromiumPath())) {
  console.error(`no Chromium at ${chromiumPath()}: bash scripts/install-system-deps.sh browser`);
  process.exit(1);
}

// Chips per model: enough for a few seconds of work each on a quiet machine.
const CASES = {
  'mlp-paper': { chips: 50, faults: 'circle:radius=0.3,density=0.5,kind=stuck-on@layers=1' },
  mlp: { chips: 8, faults: 'random:sa0=0.01,sa1=0.01' },
  lenet5: { chips: 4, faults: 'random:sa0=0.01,sa1=0.01' },
};
const models = arg('--models', Object.keys(CASES).join(','))
  .split(',')
  .filter((m) => existsSync(join(root, 'playground/assets/models', m, 'model.json')));
const data = join(root, 'playground/assets/data/mnist');

const work = mkdtempSync(join(tmpdir(), 'xbar-bench-playground-'));
execFileSync('node', [join(root, 'scripts/build-site.mjs'), '--out', join(work, 'site'), '--quiet'], { stdio: 'inherit' });
const { server, url } = await serveStatic(join(work, 'site'));
const busy = await cpuBusy(1000);
const load = loadavg()[0];
log(`machine: load average ${load.toFixed(2)}, other processes busy ${(100 * busy).toFixed(0)}% of the CPU`);

const { chromium } = await import('playwright-core');
const context = await chromium.launchPersistentContext(join(work, 'profile'), {
  executablePath: chromiumPath(),
  headless: true,
  args: CHROMIUM_ARGS,
  viewport: { width: 1280, height: 900 },
});
const rows = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  for (const name of models) {
    const c = CASES[name];
    await page.goto(url);
    await page.waitForSelector('#software', { timeout: 60_000 });
    if (name !== (await page.inputValue('#model'))) {
      await page.selectOption('#model', name);
      await page.waitForFunction((n) => document.querySelector('#model-info b')?.textContent === n, name, { timeout: 60_000 });
    }
    await page.fill('#chips', String(c.chips));
    await page.dispatchEvent('#chips', 'change');
    await page.fill('#spec', c.faults);
    await page.dispatchEvent('#spec', 'change');
    await page.click('#run');
    const mean = page.locator('#result-A .mean[data-mean]:not([data-mean=""])');
    await mean.waitFor({ timeout: 600_000 });
    const page_ = {
      mean: Number(await mean.getAttribute('data-mean')),
      seconds: Number(await mean.getAttribute('data-seconds')),
      firstChipMs: Number(await mean.getAttribute('data-first-chip-ms')),
    };
    const images = Number(
      await page.$eval(
        '#software',
        () => /on the page's (\d+) test images/.exec(document.querySelector('#model-info')?.textContent ?? '')?.[1],
      ),
    );
    const node = (kernels) => {
      const out = execFileSync(
        'node',
        [
          join(root, 'dist/cli/main.js'),
          'simulate',
          '--model',
          join(root, 'playground/assets/models', name),
          '--faults',
          c.faults,
          '--chips',
          String(c.chips),
          '--seed',
          '1',
          '--data-dir',
          data,
          '--kernels',
          kernels,
          '--threads',
          '1',
          '--workers',
          '1',
          '--json',
        ],
        { encoding: 'utf8' },
      );
      const r = JSON.parse(out)[0];
      return { mean: r.summary.mean, seconds: r.seconds };
    };
    const js = node('js');
    const native = node('native');
    const rate = (s) => (c.chips * images) / s;
    rows.push({
      model: name,
      chips: c.chips,
      images,
      faults: c.faults,
      browserChipImagesPerS: rate(page_.seconds),
      nodeJsChipImagesPerS: rate(js.seconds),
      nodeNativeChipImagesPerS: rate(native.seconds),
      firstChipSeconds: page_.firstChipMs / 1000,
      sameAsNodeJs: page_.mean === js.mean,
      sameAsNative: page_.mean === native.mean,
      means: { browser: page_.mean, nodeJs: js.mean, native: native.mean },
    });
    log(`${name}: done`);
  }
} finally {
  await context.close();
  server.close();
  rmSync(work, { recursive: true, force: true });
}

const meta = { loadAverage: load, otherBusy: busy, note: load > 1.5 || busy > 0.3 ? 'measured under load' : 'quiet machine' };
if (json) console.log(JSON.stringify({ ...meta, rows }, null, 2));
else {
  const k = (x) => `${(x / 1000).toFixed(0)}k`;
  console.log(`chip-images per second, one thread each (${meta.note}: load average ${load.toFixed(2)})`);
  console.log('| model | chips x images | Chromium (JS) | Node JS | Node native | first chip (s) | same accuracy as Node JS / native |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.model} | ${r.chips} x ${r.images} | ${k(r.browserChipImagesPerS)} | ${k(r.nodeJsChipImagesPerS)} | ${k(r.nodeNativeChipImagesPerS)} | ${r.firstChipSeconds.toFixed(2)} | ${r.sameAsNodeJs ? 'yes' : 'NO'} / ${r.sameAsNative ? 'yes' : 'no'} |`,
    );
}
