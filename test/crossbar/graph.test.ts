import { describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import { programChip } from '../../src/crossbar/chip.js';
import { idealCircuit, resolveCircuit } from '../../src/crossbar/circuit.js';
import { runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { simulateBatch } from '../../src/crossbar/simulate.js';
import { loadDataset } from '../../src/data/node.js';
import { resolveDevice } from '../../src/device/config.js';
import { type FaultSpec, parseFaultSpec } from '../../src/faults/index.js';
import { foldBatchNorm } from '../../src/nn/fold.js';
import type { LayerSpec } from '../../src/nn/layer.js';
import { argmaxRows } from '../../src/nn/loss.js';
import { buildModel, type Model } from '../../src/nn/model.js';
import type { GraphSpec, ModelSpec } from '../../src/nn/spec.js';
import { train } from '../../src/nn/train.js';

const kernels = loadKernels();
const digits = loadDataset('digits8', { limitTrain: 1500, limitTest: 400 });
const cfg = { epochs: 3, batchSize: 32, optimizer: { name: 'adam' as const, lr: 0.01 }, schedule: 'cosine' as const, seed: 2 };

/** A small residual network on 8x8 digits: projection and identity shortcuts, batch norms, a concat, global pooling. */
const residual: GraphSpec = {
  inputShape: [8, 8, 1],
  nodes: [
    { name: 'stem', type: 'conv2d', filters: 8, kernel: 3, pad: 1, bias: false },
    { name: 'stem_bn', type: 'batchnorm' },
    { name: 'stem_relu', type: 'activation', fn: 'relu' },
    { name: 'b1_conv1', type: 'conv2d', filters: 12, kernel: 3, stride: 2, pad: 1, bias: false },
    { name: 'b1_bn1', type: 'batchnorm' },
    { name: 'b1_relu1', type: 'activation', fn: 'relu' },
    { name: 'b1_conv2', type: 'conv2d', filters: 12, kernel: 3, pad: 1, bias: false },
    { name: 'b1_bn2', type: 'batchnorm' },
    { name: 'b1_proj', type: 'conv2d', filters: 12, kernel: 1, stride: 2, bias: false, inputs: ['stem_relu'] },
    { name: 'b1_proj_bn', type: 'batchnorm' },
    { name: 'b1_add', type: 'add', inputs: ['b1_bn2', 'b1_proj_bn'] },
    { name: 'b1_relu2', type: 'activation', fn: 'relu' },
    { name: 'b2_conv', type: 'conv2d', filters: 12, kernel: 3, pad: 1 },
    { name: 'b2_relu', type: 'activation', fn: 'relu' },
    { name: 'b2_add', type: 'add', inputs: ['b2_relu', 'b1_relu2'] },
    { name: 'side', type: 'conv2d', filters: 4, kernel: 1, inputs: ['b1_relu2'] },
    { name: 'cat', type: 'concat', inputs: ['b2_add', 'side'] },
    { name: 'pool', type: 'maxpool', size: 2 },
    { name: 'flat', type: 'flatten' },
    { name: 'fc', type: 'dense', units: 10 },
  ],
};
const trained = buildModel(residual, 1);
train(trained, digits.train, null, cfg, kernels);
const folded = foldBatchNorm(trained);

const calibN = 300;
const planFor = (m: Model, circuit = idealCircuit) =>
  planCrossbars(m, resolveCircuit(circuit), digits.train.x.subarray(0, calibN * 64), calibN, kernels);
const accuracyOf = (logits: Float32Array) => argmaxRows(logits, 10).filter((p, i) => p === digits.test.y[i]).length / digits.test.n;

describe('graph networks on crossbars', () => {
  it('number weighted nodes in model order, fuse an activation only where it alone reads the layer', () => {
    const p = planFor(trained);
    const names = trained.graph?.names ?? [];
    expect(p.layers.map((lp) => names[lp.layerIndex])).toEqual(['stem', 'b1_conv1', 'b1_conv2', 'b1_proj', 'b2_conv', 'side', 'fc']);
    expect(p.layers.map((lp) => lp.weighted)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // b2_conv's relu alone reads it: fused. The norms sit between the others and their relus.
    expect(p.layers.map((lp) => names[lp.outputNode])).toEqual(['stem', 'b1_conv1', 'b1_conv2', 'b1_proj', 'b2_relu', 'side', 'fc']);
  });

  it('an ideal chip computes exactly the software network, batch norms in the periphery or folded into the arrays', () => {
    for (const m of [trained, folded]) {
      for (const arraySize of [128, 16]) {
        const p = planFor(m, { ...idealCircuit, arrayRows: arraySize, arrayCols: arraySize });
        const chip = programChip(p, resolveDevice('ideal'), [], 1, 0);
        const out = simulateBatch(m, p, chip.layers, resolveDevice('ideal'), digits.test.x, digits.test.n, { kernels, rng: null });
        expect(out.data).toEqual(m.predict(digits.test.x, digits.test.n, kernels));
      }
      const r = runMonteCarlo(m, planFor(m), resolveDevice('ideal'), [], digits.test, { chips: 2, seed: 3 }, kernels);
      expect(r.chips.map((c) => c.accuracy)).toEqual([1, 1].map(() => accuracyOf(m.predict(digits.test.x, digits.test.n, kernels))));
    }
  });

  it('folding batch norms removes them, keeps the predictions and gives the convs a bias', () => {
    expect(folded.layers.length).toBe(trained.layers.length - 4);
    expect(folded.params.some((p) => p.buffer)).toBe(false);
    expect(folded.params.map((p) => p.name)).toContain('stem.bias');
    const a = trained.predict(digits.test.x, digits.test.n, kernels);
    const b = folded.predict(digits.test.x, digits.test.n, kernels);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
    expect(worst).toBeLessThan(1e-4);
    expect(accuracyOf(b)).toBe(accuracyOf(a));
    // A sequential conv + batch norm folds the same way.
    const seq = buildModel(
      {
        inputShape: [8, 8, 1],
        layers: [
          { type: 'conv2d', filters: 3, kernel: 3, bias: false },
          { type: 'batchnorm' },
          { type: 'flatten' },
          { type: 'dense', units: 10 },
        ],
      },
      2,
    );
    train(seq, digits.train, null, { ...cfg, epochs: 1 }, kernels);
    const fs = foldBatchNorm(seq);
    expect(fs.spec).toEqual({
      inputShape: [8, 8, 1],
      layers: [{ type: 'conv2d', filters: 3, kernel: 3 }, { type: 'flatten' }, { type: 'dense', units: 10 }],
    });
    const x50 = digits.test.x.subarray(0, 50 * 64);
    const d = fs.predict(x50, 50, kernels);
    seq.predict(x50, 50, kernels).forEach((v, i) => {
      expect(d[i]).toBeCloseTo(v, 4);
    });
  });

  it('a sequential network written as a chain of nodes simulates the same chips, with variation, read noise and faults', () => {
    const layers: LayerSpec[] = [
      { type: 'conv2d', filters: 4, kernel: 3, padding: 'same' },
      { type: 'activation', fn: 'relu' },
      { type: 'maxpool', size: 2 },
      { type: 'flatten' },
      { type: 'dense', units: 16 },
      { type: 'activation', fn: 'relu' },
      { type: 'dense', units: 10 },
    ];
    const seqSpec: ModelSpec = { inputShape: [8, 8, 1], layers };
    const seq = buildModel(seqSpec, 4);
    train(seq, digits.train, null, { ...cfg, epochs: 2 }, kernels);
    const chain = buildModel({ inputShape: [8, 8, 1], nodes: layers.map((l, i) => ({ ...l, name: `n${i}` })) }, 0);
    chain.params.forEach((p, i) => {
      p.value.set(seq.params[i].value);
    });
    const cases: [ReturnType<typeof resolveDevice>, FaultSpec][] = [
      [resolveDevice('reram-generic'), []],
      [resolveDevice('reram-generic', { programSigma: 0, readNoise: 0 }), parseFaultSpec('random:sa0=0.05,sa1=0.05@layers=1')],
      [resolveDevice('reram-generic', { readNoise: 0.05 }), parseFaultSpec('random:sa0=0.02,sa1=0.02')],
    ];
    for (const [dev, faults] of cases) {
      const a = runMonteCarlo(seq, planFor(seq, resolveCircuit({})), dev, faults, digits.test, { chips: 4, seed: 9 }, kernels);
      const b = runMonteCarlo(chain, planFor(chain, resolveCircuit({})), dev, faults, digits.test, { chips: 4, seed: 9 }, kernels);
      expect(b.chips).toEqual(a.chips);
    }
  });

  it('faults on one weighted node land only there, and the Monte Carlo shortcut equals a full pass per chip', () => {
    const dev = resolveDevice('reram-generic', { programSigma: 0, readNoise: 0 });
    const faults = parseFaultSpec('random:sa0=0.03,sa1=0.03@layers=3');
    const p = planFor(folded, resolveCircuit({}));
    const r = runMonteCarlo(folded, p, dev, faults, digits.test, { chips: 3, seed: 4 }, kernels);
    for (const c of r.chips) {
      expect(c.faultyWeights.map((f, k) => (k === 3 ? f > 0 : f === 0))).toEqual(c.faultyWeights.map(() => true));
      const chip = programChip(p, dev, faults, 4, c.chip);
      const out = simulateBatch(folded, p, chip.layers, dev, digits.test.x, digits.test.n, { kernels, rng: null }).data;
      expect(c.accuracy).toBe(accuracyOf(out));
    }
    // With variation everywhere the shared prefix is empty; still one chip's full pass.
    const vary = resolveDevice('reram-generic', { readNoise: 0 });
    const rv = runMonteCarlo(folded, p, vary, [], digits.test, { chips: 2, seed: 4 }, kernels);
    const chip1 = programChip(p, vary, [], 4, 1);
    expect(rv.chips[1].accuracy).toBe(
      accuracyOf(simulateBatch(folded, p, chip1.layers, vary, digits.test.x, digits.test.n, { kernels, rng: null }).data),
    );
    expect(rv.summary.mean).toBeLessThanOrEqual(accuracyOf(folded.predict(digits.test.x, digits.test.n, kernels)) + 0.02);
  });
});
