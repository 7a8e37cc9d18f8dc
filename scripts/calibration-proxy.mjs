#!/usr/bin/env node
// How faithful is the calibrated placement search's proxy? Evaluates given module configurations
// exactly as one evaluation of `xbar correctnet --calibrate-search` does (same Lipschitz network,
// search chips, validation images, loss, learning rate, rails), but with the images, epochs and
// chips given here, so cheap proxies can be ranked against the final calibration's setting.
// Behind docs/correctnet.md's "Why the proxy misranks". Needs `npm run build` and a finished
// `xbar correctnet --calibrate ... --calibrate-search ...` run folder (its results.json).
//
//   node scripts/calibration-proxy.mjs --run runs/correctnet-vgg-rl-remeasure --images 1000 \
//        --epochs 15 --chips 4 4,4,4,4,2,4 1,3,1,3,4,1
//
// A configuration is one action per site, as in the run's table: 0 = no module, then the run's
// calibrated module sizes in order (0 = affine, then the --calibrate-ranks). One line per
// configuration: mean validation accuracy over the chips and seconds.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const fail = (msg) => {
  console.error(`calibration-proxy: ${msg}`);
  process.exit(1);
};
// A missing data set or model, a worker failing: one line, not a stack trace.
process.on('uncaughtException', (e) => fail(e.message));
process.on('unhandledRejection', (e) => fail(e instanceof Error ? e.message : String(e)));
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      run: { type: 'string' },
      images: { type: 'string', default: '1000' },
      epochs: { type: 'string', default: '5' },
      chips: { type: 'string', default: '4' },
      workers: { type: 'string', default: '2' },
    },
  });
} catch (e) {
  fail(e.message);
}
const { values: a, positionals } = parsed;
if (!a.run) fail('--run <folder of an xbar correctnet run with --calibrate-search> is required');
const whole = (name) => {
  const n = Number(a[name]);
  if (!Number.isInteger(n) || n < 1) fail(`--${name} must be a whole number >= 1, got '${a[name]}'`);
  return n;
};
const [images, epochs, chips, workers] = ['images', 'epochs', 'chips', 'workers'].map(whole);
const resultsPath = join(a.run, 'results.json');
if (!existsSync(resultsPath)) fail(`${resultsPath} is missing: give the folder of a finished xbar correctnet run`);
if (!existsSync(new URL('../dist/study/correctnet-node.js', import.meta.url))) fail('run `npm run build` first');
let r;
try {
  r = JSON.parse(readFileSync(resultsPath, 'utf8'));
} catch (e) {
  fail(`${resultsPath} is not a results file (${e.message}): give the folder of a finished xbar correctnet run`);
}
const o = r.options;
if (r.format !== 'xbar-correctnet' || !o || !r.seeds) fail(`${resultsPath} is not an xbar correctnet results file`);
if (!r.calibrationPlacement) fail(`${a.run} was run without --calibrate-search: there is no calibrated search to compare with`);
const ranks = r.calibrationPlacement.problem.ranks;
const configs = positionals.map((p) => {
  const c = p.split(',').map(Number);
  if (c.length !== r.sensitivity.length || c.some((v) => !Number.isInteger(v) || v < 0 || v > ranks.length))
    fail(`configuration '${p}' must list ${r.sensitivity.length} actions from 0 to ${ranks.length}`);
  return c;
});
if (!configs.length) fail('give at least one configuration, e.g. 4,4,4,4,2,4');

const { loadKernels } = await import('../dist/core/kernels-node.js');
const { calibrationSearchSetup, correctnetImages, evaluationWorkers } = await import('../dist/study/correctnet-node.js');
const { loadDataset } = await import('../dist/data/node.js');
const { calibrationPlacementProblem } = await import('../dist/mitigation/correctnet/calibration.js');
const { loadModel } = await import('../dist/nn/io-node.js');

const kernels = loadKernels({});
const ds = loadDataset(r.dataset, { dataDir: o.dataDir, limitTrain: o.limitTrain, limitTest: o.limitTest });
// The run's own images and search setup (the same builders xbar correctnet uses), with this
// script's images, epochs and chips.
const { trainSplit, valSet, rails } = correctnetImages(ds, r.seeds.plain, o.valImages);
if (images > trainSplit.n) fail(`--images ${images} is more than the ${trainSplit.n} training images`);
const run = {
  base: loadModel(join(a.run, 'lipschitz')).model,
  ranks,
  sensitivity: r.sensitivity,
  device: r.device,
  trainSplit,
  valSet,
  rails,
};
const setup = calibrationSearchSetup(o, run, { images, epochs, chips });
const problem = calibrationPlacementProblem(setup, kernels, undefined, evaluationWorkers(workers, chips, kernels).runChips);
for (const c of configs) {
  const t = performance.now();
  const accuracy = await problem.evaluate(c);
  const s = ((performance.now() - t) / 1000).toFixed(0);
  console.log(`${images} images x ${epochs} epochs, ${chips} chips, [${c.join(',')}]: ${(accuracy * 100).toFixed(2)}% (${s} s)`);
}
process.exit(0);
