#!/usr/bin/env node
// Quick probes behind docs/correctnet.md's "Per-chip calibration" section: fine-tunes compensation
// modules on each of a few software chips (= simulator chips of the same seed) and prints one JSON
// line. Faster than `xbar correctnet --calibrate` (no placement, no sweep), for exploring options.
//
//   node scripts/correctnet-probe.mjs --base runs/cn/mlp-plain --sites 0:4,1:16,2:16,3:4 --images 5000 \
//        --epochs 20 --chips 3 --sigma 1.2 --limit-test 2000 [--rails chip|clean|base|none] [--init DIR] [--loss ce|kd]
//
// --rails: where the neurons saturate when the chip is tested. chip = railHeadroom x the largest
// activation measured on the chip with its modules (what `xbar correctnet --calibrate` uses);
// clean = the simulator's rule on the clean network with the chip's modules; base = the clean
// network without modules; none = no rails. --init starts the modules from a saved compensated
// model (e.g. chip-independent ones). --loss kd distils the clean network's logits (T = 2).
// --dropout on keeps the frozen network's dropout layers (vgg-small) on while calibrating.
// --independent E: instead of calibrating per chip, train the modules once over random chips
// (trainCompensation, E epochs on the whole training split, seed 24) and test them on every
// chip with the simulator's rails (--rails clean): CorrectNet's chip-independent modules.
// Needs `npm run build`. Seeds: chips 0..n-1 of seed 1, calibration images = the first n of the
// training split (seed 3, as `xbar train`'s default seed 1), shuffling seed 100 + chip.
import { parseArgs } from 'node:util';
import { loadKernels } from '../dist/core/kernels-node.js';
import { Rng } from '../dist/core/rng.js';
import { trainValSplit } from '../dist/data/index.js';
import { loadDataset } from '../dist/data/node.js';
import { resolveDevice } from '../dist/device/config.js';
import { compensationCost, trainCompensation, withCompensation } from '../dist/mitigation/correctnet/compensation.js';
import { head } from '../dist/mitigation/correctnet/correctnet.js';
import { Rails, WeightNoise } from '../dist/mitigation/noise.js';
import { loadModel } from '../dist/nn/io-node.js';
import { makeOptimizer } from '../dist/nn/optim.js';
import { evaluate } from '../dist/nn/train.js';

const { values: a } = parseArgs({
  options: {
    base: { type: 'string' },
    sites: { type: 'string' },
    images: { type: 'string', default: '5000' },
    epochs: { type: 'string', default: '20' },
    lr: { type: 'string', default: '0.003' },
    chips: { type: 'string', default: '3' },
    sigma: { type: 'string', default: '1.2' },
    'limit-test': { type: 'string' },
    rails: { type: 'string', default: 'chip' },
    init: { type: 'string' },
    independent: { type: 'string' },
    loss: { type: 'string', default: 'ce' },
    dropout: { type: 'string', default: 'off' },
  },
});
if (!a.base || !a.sites) throw new Error('--base DIR and --sites layer:rank,... are required');
if (!['chip', 'clean', 'base', 'none'].includes(a.rails)) throw new Error(`--rails must be chip, clean, base or none, got ${a.rails}`);
if (!['ce', 'kd'].includes(a.loss)) throw new Error(`--loss must be ce or kd, got ${a.loss}`);
if (!['on', 'off'].includes(a.dropout)) throw new Error(`--dropout must be on or off, got ${a.dropout}`);
const sites = a.sites.split(',').map((s) => {
  const [layer, rank] = s.split(':').map(Number);
  return { layer, rank };
});
const kernels = loadKernels({ threads: 1 });
const { model: base, file } = loadModel(a.base);
const ds = loadDataset(String(file.meta.dataset ?? 'mnist'), { limitTest: a['limit-test'] ? Number(a['limit-test']) : undefined });
const seed = typeof file.meta.seed === 'number' ? file.meta.seed : 1;
const { train: trainSplit } = trainValSplit(ds.train, 0.1, seed + 2);
const inSize = base.inputSize;
const K = base.outputSize;
const railImages = { x: ds.train.x.subarray(0, 1000 * inSize), n: 1000 };
const device = resolveDevice('reram-generic', { programSigma: Number(a.sigma), readNoise: 0 });
const cal = head(trainSplit, Number(a.images));
const teacher = base.forward({ data: cal.x, shape: [cal.n, inSize] }, { kernels, training: false }).data.slice();
let init = a.init ? loadModel(a.init).model : null;
if (a.independent) {
  init = withCompensation(base, sites, 20);
  const cfg = { epochs: Number(a.independent), batchSize: 128, lr: 0.003, device, seed: 24 };
  trainCompensation(init, trainSplit, null, cfg, kernels);
}
const softmax = (v, t) => {
  const mx = Math.max(...v);
  const ex = Array.from(v, (u) => Math.exp((u - mx) / t));
  const s = ex.reduce((p, q) => p + q, 0);
  return ex.map((q) => q / s);
};
const mean = (xs) => xs.reduce((p, q) => p + q, 0) / xs.length;
const before = [];
const after = [];
let cost;
const t0 = performance.now();
for (let c = 0; c < Number(a.chips); c++) {
  const m = withCompensation(base, sites, 20);
  if (init) {
    const by = new Map(init.params.map((p) => [p.name, p]));
    for (const p of m.params) if (p.name.startsWith('comp') && by.has(p.name)) p.value.set(by.get(p.name).value);
  }
  cost = compensationCost(m);
  const params = m.params.filter((p) => p.name.startsWith('comp'));
  const noise = new WeightNoise(m, { device, seed: 1, readNoise: 0 });
  const rails = new Rails(m);
  rails.calibrate(railImages.x, railImages.n, kernels); // 'base': the clean network before training
  const test = () => {
    if (a.rails === 'clean') rails.calibrate(railImages.x, railImages.n, kernels);
    noise.apply(c);
    if (a.rails === 'chip') rails.calibrate(railImages.x, railImages.n, kernels);
    const acc = evaluate(a.rails === 'none' ? m : rails.model, ds.test, kernels).accuracy;
    noise.restore();
    return acc;
  };
  before.push(test());
  if (a.independent) {
    after.push(before[c]);
    continue;
  }
  noise.apply(c);
  const rng = new Rng(100 + c);
  const opt = makeOptimizer({ name: 'adam', lr: Number(a.lr) });
  const bs = 64;
  const steps = Math.ceil(cal.n / bs);
  const total = steps * Number(a.epochs);
  // As calibrateChip: only the modules get gradients, and the frozen network's dropout stays off
  // (--dropout on: the frozen network's dropout layers drop while the modules train).
  const ctx = { kernels, training: true, rng, trainable: new Set(params), dropout: a.dropout === 'on' };
  for (let e = 0, step = 0; e < Number(a.epochs); e++) {
    const order = rng.permutation(cal.n);
    for (let s = 0; s < steps; s++, step++) {
      const b = Math.min(bs, cal.n - s * bs);
      const xb = new Float32Array(b * inSize);
      const g = new Float32Array(b * K);
      const idx = Array.from({ length: b }, (_, i) => order[s * bs + i]);
      idx.forEach((j, i) => {
        xb.set(cal.x.subarray(j * inSize, (j + 1) * inSize), i * inSize);
      });
      m.zeroGrad();
      const z = m.forward({ data: xb, shape: [b, inSize] }, ctx);
      idx.forEach((j, i) => {
        const zi = z.data.subarray(i * K, (i + 1) * K);
        if (a.loss === 'ce') {
          const p = softmax(zi, 1);
          for (let k = 0; k < K; k++) g[i * K + k] = (p[k] - (k === cal.y[j] ? 1 : 0)) / b;
        } else {
          const p = softmax(zi, 2);
          const q = softmax(teacher.subarray(j * K, (j + 1) * K), 2);
          for (let k = 0; k < K; k++) g[i * K + k] = (2 * (p[k] - q[k])) / b;
        }
      });
      m.backward({ data: g, shape: [b, K] }, ctx);
      opt.step(params, 0.5 * Number(a.lr) * (1 + Math.cos((Math.PI * step) / total)));
    }
  }
  noise.restore();
  after.push(test());
}
console.log(
  JSON.stringify({
    ...a,
    params: cost.params,
    paramsShare: +cost.paramsShare.toFixed(4),
    before: +mean(before).toFixed(4),
    after: +mean(after).toFixed(4),
    min: Math.min(...after),
    max: Math.max(...after),
    secondsPerChip: +((performance.now() - t0) / 1000 / Number(a.chips)).toFixed(1),
  }),
);
