#!/usr/bin/env node
// The price of each recovery method in energy, latency and area, beside the accuracy it recovers:
// docs/cost.md's table "accuracy recovered against energy and latency added". Needs `npm run build`.
//
//   node scripts/cost-recovery.mjs [--mlp-paper DIR] [--mlp DIR] [--lenet5 DIR] [--tech FILE] [--json]
//
// The accuracies are quoted from docs/corrector.md and docs/correctnet.md (each row names its
// table); this script computes what the model says the method adds, for the exact module or
// corrector of that table (checked against the parameter counts the tables give), on the
// default circuit of those runs (128 x 128 arrays, no converters in the circuit: analog between
// layers) and, for comparison, with 8-bit ADCs on every tile. Without a DIR the network is the
// untrained preset: the added energy of a digital block does not depend on the weights, only the
// base it is a share of does (through the cells' conductances, under 1% of the base energy).
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  buildModel,
  compensationRecoveryCost,
  correctorRecoveryCost,
  correctorSpec,
  eng,
  getPreset,
  loadDataset,
  loadKernels,
  loadModel,
  resolveCircuit,
  resolveDevice,
  resolveTech,
  withCompensation,
} from '../dist/index.js';

const fail = (msg) => {
  console.error(`cost-recovery: ${msg}`);
  process.exit(1);
};
process.on('uncaughtException', (e) => fail(e.message));
const { values: args } = parseArgs({
  options: {
    'mlp-paper': { type: 'string' },
    mlp: { type: 'string' },
    lenet5: { type: 'string' },
    tech: { type: 'string' },
    json: { type: 'boolean' },
  },
});
const tech = resolveTech(args.tech ? JSON.parse(readFileSync(args.tech, 'utf8')) : {}, args.tech ?? 'technology file');
const kernels = loadKernels();
const device = resolveDevice('reram-generic');

const CORRECTOR_MD = 'docs/corrector.md';
const CORRECTNET_MD = 'docs/correctnet.md';
const SIZES = [
  ['linear', []],
  ['mlp 8', [8]],
  ['mlp 16', [16]],
  ['mlp 32', [32]],
  ['mlp 64', [64]],
  ['mlp 64-64', [64, 64]],
  ['mlp 128-128', [128, 128]],
];
// Corrector accuracy (calib, 20 images per chip) per size, and uncorrected, on the held-out chips.
const corrector = {
  'mlp-paper': {
    source: `${CORRECTOR_MD}, "Results: mlp-paper on digits8, defects on the output array"`,
    before: 0.5228,
    after: [0.912, 0.9116, 0.9146, 0.916, 0.9174, 0.918, 0.9167],
  },
  mlp: {
    source: `${CORRECTOR_MD}, "Results: mlp on MNIST, defects on the last two arrays"`,
    before: 0.5588,
    after: [0.924, 0.9231, 0.927, 0.9288, 0.9299, 0.931, 0.9307],
  },
  lenet5: { source: 'not measured (no corrector run on LeNet-5 yet)', before: null, after: SIZES.map(() => null) },
};
// CorrectNet modules: sites (rank per weighted layer, null = none), the parameters the table gives, accuracies.
const correctnet = {
  mlp: [
    {
      method: 'plain+cal 20000 (budget rule)',
      ranks: [4, 16, 16, 16],
      params: 9938,
      before: 0.1596,
      after: 0.9426,
      source: `${CORRECTNET_MD}, "mlp ... target = where plain < 20% (sigma 1.2)", per-chip calibration table`,
    },
    {
      method: 'lipschitz+cal 20000 (RL-placed)',
      ranks: [16, null, 16, 16],
      params: 11598,
      before: 0.1596,
      after: 0.9434,
      source: `${CORRECTNET_MD}, same section, "RL-placed, calibrated" table`,
    },
    {
      method: 'noise+comp (chip-independent, RL-placed)',
      ranks: [null, null, 16, 4],
      params: 2370,
      before: 0.1596,
      after: 0.5393,
      source: `${CORRECTNET_MD}, same section, chip-independent columns at sigma 1.2`,
    },
  ],
  lenet5: [
    {
      method: 'plain+cal 20000 (budget rule)',
      ranks: [16, 16, 0, 4, 16],
      params: 2336,
      before: 0.1468,
      after: 0.9445,
      source: `${CORRECTNET_MD}, "LeNet-5 (MNIST), target = where plain < 20% (sigma 1.0)", per-chip calibration table`,
    },
    {
      method: 'lipschitz+cal 20000 (RL-placed)',
      ranks: [16, 16, 4, 4, null],
      params: 3054,
      before: 0.1468,
      after: 0.9489,
      source: `${CORRECTNET_MD}, same section, "RL-placed, calibrated" table`,
    },
    {
      method: 'noise+comp (chip-independent, RL-placed)',
      ranks: [16, 4, null, null, null],
      params: 406,
      before: 0.1468,
      after: 0.463,
      source: `${CORRECTNET_MD}, same section, chip-independent columns at sigma 1`,
    },
  ],
};

function network(name) {
  const dir = args[name];
  if (dir) return { model: loadModel(dir).model, label: `${name} (${dir})` };
  return { model: buildModel(getPreset(name).spec, 1), label: `${name} (untrained preset)` };
}

function context(model, dataset, adcBits) {
  const ds = loadDataset(dataset, { limitTrain: 1000, limitTest: 1 });
  const n = Math.min(1000, ds.train.n);
  return {
    circuit: resolveCircuit({ adcBits }),
    device,
    calib: ds.train.x.subarray(0, n * model.inputSize),
    n,
    kernels,
    tech,
  };
}

const rows = [];
const add = (net, method, config, acc, source, costs) => {
  rows.push({ network: net, method, config, before: acc.before, after: acc.after, source, ...costs });
};
const costs = (analog, adc) => ({
  baseEnergy: analog.base.energy,
  energyAdded: analog.overhead.energy,
  energyShare: analog.overhead.energyShare,
  latencyAdded: analog.overhead.latency,
  latencyShare: analog.overhead.latencyShare,
  areaAdded: analog.overhead.area,
  areaShare: analog.overhead.areaShare,
  adcEnergyShare: adc.overhead.energyShare,
  adcLatencyShare: adc.overhead.latencyShare,
});

for (const name of ['mlp-paper', 'mlp', 'lenet5']) {
  const { model, label } = network(name);
  const dataset = getPreset(name).dataset;
  const ctxA = context(model, dataset, 0);
  const ctxD = context(model, dataset, 8);
  const classes = 10;
  const c = corrector[name];
  SIZES.forEach(([size, hidden], i) => {
    const cm = buildModel(correctorSpec(classes, classes, hidden), 1);
    const a = correctorRecoveryCost(model, cm, classes, classes, ctxA);
    const d = correctorRecoveryCost(model, cm, classes, classes, ctxD);
    add(label, 'corrector (calib, 20 images)', size, { before: c.before, after: c.after[i] }, c.source, costs(a, d));
  });
  for (const m of correctnet[name] ?? []) {
    const sites = m.ranks.flatMap((rank, layer) => (rank === null ? [] : [{ layer, rank }]));
    const withComp = withCompensation(model, sites, 1);
    const params = withComp.layers.reduce((a, l) => a + (l.spec.type === 'compensation' ? l.cost.params : 0), 0);
    if (params !== m.params) fail(`${name} ${m.method}: the modules have ${params} parameters, the table says ${m.params}`);
    const a = compensationRecoveryCost(withComp, ctxA);
    const d = compensationRecoveryCost(withComp, ctxD);
    const config = m.ranks.map((r) => (r === null ? 'none' : r === 0 ? 'affine' : `r${r}`)).join(', ');
    add(label, `CorrectNet ${m.method}`, config, m, m.source, costs(a, d));
  }
}

if (args.json) {
  console.log(JSON.stringify({ tech: tech.name, rows }, null, 2));
} else {
  const pct = (x) => (x === null || x === undefined ? 'n/a' : `${(100 * x).toFixed(2)}%`);
  const share = (x) => `${(100 * x).toFixed(1)}%`;
  console.log(
    `technology ${tech.name}; energy/latency added = cost with the method - cost without, analog circuit (as the accuracy runs); last column: with 8-bit ADCs on every tile`,
  );
  console.log('');
  console.log(
    '| network | method | configuration | accuracy before -> after | energy added | latency added | area added | with 8-bit tile ADCs: energy / latency added |',
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(
      `| ${r.network} | ${r.method} | ${r.config} | ${pct(r.before)} -> ${pct(r.after)} | ${eng(r.energyAdded, 'J')} (${share(r.energyShare)}) | ${eng(r.latencyAdded, 's')} (${share(r.latencyShare)}) | ${(r.areaAdded * 1e6).toPrecision(3)} mm^2 (${share(r.areaShare)}) | ${share(r.adcEnergyShare)} / ${share(r.adcLatencyShare)} |`,
    );
  console.log('');
  console.log('Accuracy sources:');
  for (const s of [...new Set(rows.map((r) => `${r.network.split(' ')[0]} ${r.method.split(' (')[0]}: ${r.source}`))])
    console.log(`- ${s}`);
}
