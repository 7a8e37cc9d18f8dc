import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { Rng } from '../../src/core/rng.js';
import { loadDataset } from '../../src/data/node.js';
import type { BatchNorm } from '../../src/nn/batchnorm.js';
import { loadModel, saveModel } from '../../src/nn/io-node.js';
import type { LayerSpec } from '../../src/nn/layer.js';
import { softmaxCrossEntropy } from '../../src/nn/loss.js';
import { buildModel } from '../../src/nn/model.js';
import { type GraphSpec, type ModelSpec, parseModelSpec } from '../../src/nn/spec.js';
import { train } from '../../src/nn/train.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Finite-difference check of every parameter's gradient (a few entries each) in training mode. */
function gradCheck(spec: ModelSpec, batch = 3) {
  const rng = new Rng(7);
  const model = buildModel(spec, 3);
  const x = rng.fillNormal(new Float32Array(batch * model.inputSize));
  const y = new Uint8Array(batch).map(() => rng.int(4));
  const ctx = { kernels: jsKernels, training: true, rng: new Rng(0) };
  const run = () => softmaxCrossEntropy(model.forward({ data: x, shape: [batch, model.inputSize] }, ctx), y);
  model.zeroGrad();
  model.backward(run().grad, ctx);
  let checked = 0;
  for (const p of model.params) {
    if (p.buffer) continue;
    for (let t = 0; t < 6; t++) {
      const i = rng.int(p.value.length);
      const orig = p.value[i];
      const eps = 1e-2;
      p.value[i] = orig + eps;
      const lp = run().loss;
      p.value[i] = orig - eps;
      const lm = run().loss;
      p.value[i] = orig;
      const numeric = (lp - lm) / (2 * eps);
      expect(Math.abs(numeric - p.grad[i])).toBeLessThan(2e-3 + 0.03 * Math.abs(numeric));
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(0);
}

/** A residual block: conv-bn-relu-conv-bn, plus a shortcut (identity or 1x1 projection), then relu. */
function residualSpec(): GraphSpec {
  return {
    inputShape: [6, 6, 2],
    nodes: [
      { name: 'stem', type: 'conv2d', filters: 3, kernel: 3, pad: 1, bias: false },
      { name: 'stem_bn', type: 'batchnorm' },
      { name: 'stem_relu', type: 'activation', fn: 'tanh' },
      { name: 'b1_conv1', type: 'conv2d', filters: 4, kernel: 3, stride: 2, pad: 1, bias: false },
      { name: 'b1_bn1', type: 'batchnorm' },
      { name: 'b1_relu', type: 'activation', fn: 'leakyrelu', alpha: 0.1 },
      { name: 'b1_conv2', type: 'conv2d', filters: 4, kernel: 3, padding: 'same' },
      { name: 'b1_proj', type: 'conv2d', filters: 4, kernel: 1, stride: 2, inputs: ['stem_relu'] },
      { name: 'b1_add', type: 'add', inputs: ['b1_conv2', 'b1_proj'] },
      { name: 'b1_out', type: 'activation', fn: 'tanh' },
      { name: 'b2_conv', type: 'conv2d', filters: 2, kernel: 1 },
      { name: 'b2_cat', type: 'concat', inputs: ['b1_out', 'b2_conv'] },
      { name: 'gap', type: 'globalavgpool' },
      { name: 'fc', type: 'dense', units: 4 },
    ],
  };
}

describe('graph layers: backpropagation matches finite differences', () => {
  it('add (identity and projection shortcuts), concat, batchnorm, globalavgpool, pad, no bias, leakyrelu', () => {
    gradCheck(residualSpec(), 4);
  });
  it('batchnorm on vectors, and a node read by three others (gradients summed at the fan-out)', () => {
    gradCheck({
      inputShape: [1, 1, 5],
      nodes: [
        { name: 'flat', type: 'flatten' },
        { name: 'd1', type: 'dense', units: 6 },
        { name: 'bn', type: 'batchnorm' },
        { name: 'a', type: 'activation', fn: 'sigmoid' },
        { name: 'd2', type: 'dense', units: 6, inputs: ['a'] },
        { name: 'd3', type: 'dense', units: 6, inputs: ['a'] },
        { name: 'sum', type: 'add', inputs: ['a', 'd2', 'd3'] },
        { name: 'out', type: 'dense', units: 4 },
      ],
    });
  });
  it('batchnorm in a sequential spec, and in evaluation mode while it is frozen', () => {
    gradCheck({
      inputShape: [4, 4, 2],
      layers: [{ type: 'conv2d', filters: 3, kernel: 3 }, { type: 'batchnorm' }, { type: 'flatten' }, { type: 'dense', units: 4 }],
    });
  });
});

describe('graph models', () => {
  it('a sequential spec written as a chain of nodes gives the same logits, bit for bit', () => {
    const layer = fc.oneof(
      fc.constant<LayerSpec>({ type: 'activation', fn: 'relu' }),
      fc.constant<LayerSpec>({ type: 'activation', fn: 'tanh' }),
      fc.record({
        type: fc.constant('conv2d' as const),
        filters: fc.integer({ min: 1, max: 3 }),
        kernel: fc.constantFrom(1, 3),
        padding: fc.constant('same' as const),
      }),
      fc.constant<LayerSpec>({ type: 'batchnorm' }),
      fc.constant<LayerSpec>({ type: 'maxpool', size: 2, stride: 1 }),
    );
    fc.assert(
      fc.property(fc.array(layer, { maxLength: 5 }), fc.integer({ min: 0, max: 1000 }), (body, seed) => {
        const layers: LayerSpec[] = [...body, { type: 'flatten' }, { type: 'dense', units: 3 }];
        const seq: ModelSpec = { inputShape: [5, 5, 2], layers };
        const graph: ModelSpec = { inputShape: [5, 5, 2], nodes: layers.map((l, i) => ({ ...l, name: `n${i}` })) };
        const a = buildModel(seq, seed);
        const b = buildModel(graph, seed);
        // The same initial weights: layer i's generator is fork(i) of the seed in both.
        a.params.forEach((p, i) => {
          expect(b.params[i].value).toEqual(p.value);
        });
        const x = new Rng(seed).fillNormal(new Float32Array(4 * 50));
        expect(b.predict(x, 4, jsKernels)).toEqual(a.predict(x, 4, jsKernels));
      }),
      { numRuns: 40 },
    );
  });

  it('names parameters <node>.<param>, buffers included, and counts only trained ones', () => {
    const m = buildModel(residualSpec(), 1);
    expect(m.params.map((p) => p.name).slice(0, 6)).toEqual([
      'stem.weight',
      'stem_bn.gamma',
      'stem_bn.beta',
      'stem_bn.runningMean',
      'stem_bn.runningVar',
      'b1_conv1.weight',
    ]);
    const buffers = m.params.filter((p) => p.buffer).reduce((a, p) => a + p.value.length, 0);
    expect(m.parameterCount).toBe(m.params.reduce((a, p) => a + p.value.length, 0) - buffers);
    expect(buffers).toBe(2 * (3 + 4));
  });

  it('rejects bad wiring with one line naming the node', () => {
    const base = residualSpec();
    const withNodes = (nodes: GraphSpec['nodes']): GraphSpec => ({ inputShape: base.inputShape, nodes });
    expect(() => buildModel(withNodes([...base.nodes.slice(0, 3), { name: 'x', type: 'add', inputs: ['stem', 'nope'] }]), 1)).toThrow(
      /node 'x' reads 'nope', which is not an earlier node/,
    );
    expect(() => buildModel(withNodes([...base.nodes, { name: 'fc', type: 'dense', units: 2 }]), 1)).toThrow(/'fc' is used twice/);
    expect(() => buildModel(withNodes([{ name: 'input', type: 'flatten' }]), 1)).toThrow(/network input/);
    expect(() =>
      buildModel(withNodes([base.nodes[0], { name: 'side', type: 'batchnorm' }, { name: 'f', type: 'flatten', inputs: ['stem'] }]), 1),
    ).toThrow(/'side' do not lead to the output/);
    expect(() => buildModel(withNodes([base.nodes[0], { name: 'sum', type: 'add', inputs: ['stem', 'input'] }]), 1)).toThrow(
      /node 'sum' \(add\): add needs inputs of one shape/,
    );
    expect(() => buildModel(withNodes([{ name: 'sum', type: 'add' }]), 1)).toThrow(/at least 2 inputs/);
    expect(() => buildModel(withNodes([{ name: 'f', type: 'flatten', inputs: ['input', 'input'] }]), 1)).toThrow(/reads one input, got 2/);
    expect(() => buildModel({ inputShape: [2, 2, 1], layers: [{ type: 'add' }] }, 1)).toThrow(/write the model as a graph/);
    expect(() => parseModelSpec({ inputShape: [2, 2, 1], nodes: [{ name: 'a.b', type: 'flatten' }] }, 'm.json')).toThrow(
      /invalid model spec in m.json: nodes.0.name/,
    );
    expect(() => parseModelSpec({ inputShape: [2, 2, 1], nodes: [{ name: 'a', type: 'dense', unit: 3 }] }, 'm.json')).toThrow(XbarError);
    expect(parseModelSpec(base, 'm.json')).toEqual(base);
  });

  it('batchnorm trains on batch statistics and moves its running ones; evaluation and frozen fine-tuning use the running ones', () => {
    const m = buildModel(
      {
        inputShape: [1, 1, 3],
        nodes: [
          { name: 'f', type: 'flatten' },
          { name: 'bn', type: 'batchnorm', momentum: 0.5 },
        ],
      },
      1,
    );
    const bn = m.layers[1] as BatchNorm;
    const x = Float32Array.from([1, 2, 3, 3, 6, 9]);
    const y = m.forward({ data: x, shape: [2, 3] }, { kernels: jsKernels, training: true, rng: new Rng(0) }).data;
    // Batch statistics: each channel becomes -1, +1 (up to eps).
    expect(Array.from(y).map((v) => Math.round(v * 1000) / 1000)).toEqual([-1, -1, -1, 1, 1, 1]);
    expect(Array.from(bn.runningMean.value)).toEqual([1, 2, 3]); // 0.5 * 0 + 0.5 * mean [2, 4, 6]
    expect(Array.from(bn.runningVar.value)).toEqual([1.5, 4.5, 9.5]); // 0.5 * 1 + 0.5 * unbiased var [2, 8, 18]
    const before = Array.from(bn.runningMean.value);
    const frozen = { kernels: jsKernels, training: true, rng: new Rng(0), trainable: new Set([m.params[0]].slice(1)) };
    const e = m.forward({ data: x, shape: [2, 3] }, frozen).data;
    expect(Array.from(bn.runningMean.value)).toEqual(before);
    expect(e).toEqual(m.predict(x, 2, jsKernels));
    expect(e[0]).toBeCloseTo((1 - 1) / Math.sqrt(1.5 + 1e-5), 5);
  });

  it('trains (loss falls), and save then load gives the same bits, buffers included', () => {
    const ds = loadDataset('digits8', { limitTrain: 600, limitTest: 200 });
    const spec: GraphSpec = {
      inputShape: [8, 8, 1],
      nodes: [
        { name: 'c1', type: 'conv2d', filters: 12, kernel: 3, pad: 1, bias: false },
        { name: 'bn1', type: 'batchnorm' },
        { name: 'r1', type: 'activation', fn: 'relu' },
        { name: 'c2', type: 'conv2d', filters: 12, kernel: 3, padding: 'same', bias: false },
        { name: 'bn2', type: 'batchnorm' },
        { name: 'add', type: 'add', inputs: ['bn2', 'r1'] },
        { name: 'r2', type: 'activation', fn: 'relu' },
        { name: 'pool', type: 'maxpool', size: 2 },
        { name: 'flat', type: 'flatten' },
        { name: 'fc', type: 'dense', units: 10 },
      ],
    };
    const m = buildModel(spec, 2);
    const history = train(
      m,
      ds.train,
      null,
      { epochs: 3, batchSize: 32, optimizer: { name: 'adam', lr: 0.02 }, schedule: 'cosine', seed: 1 },
      jsKernels,
    );
    expect(history[2].loss).toBeLessThan(0.6 * history[0].loss);
    expect(history[2].trainAccuracy).toBeGreaterThan(0.8);
    const bn = m.layers[1] as BatchNorm;
    expect(bn.runningVar.value.some((v) => v !== 1)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'xbar-graph-'));
    dirs.push(dir);
    saveModel(dir, m, {});
    const { model: back } = loadModel(dir);
    expect(back.params.map((p) => p.name)).toEqual(m.params.map((p) => p.name));
    back.params.forEach((p, i) => {
      expect(p.value).toEqual(m.params[i].value);
    });
    expect(back.predict(ds.test.x, ds.test.n, jsKernels)).toEqual(m.predict(ds.test.x, ds.test.n, jsKernels));
  });
});
