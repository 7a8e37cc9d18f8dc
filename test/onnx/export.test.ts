import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadKernels } from '../../src/core/kernels-node.js';
import { Rng } from '../../src/core/rng.js';
import type { LayerSpec } from '../../src/nn/layer.js';
import { buildModel, type Model } from '../../src/nn/model.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { exportOnnx } from '../../src/onnx/export.js';
import { importOnnx } from '../../src/onnx/import.js';
import { readOnnxFile } from '../../src/onnx/node.js';
import { describeWith } from '../optional.js';

const kernels = loadKernels({});
/** A sequential spec's layers (what these networks import as). */
const layersOf = (s: ModelSpec): LayerSpec[] => ('layers' in s ? s.layers : []);
const fixtures = join(import.meta.dirname, '../fixtures/onnx');
const work = mkdtempSync(join(tmpdir(), 'xbar-onnx-export-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const exportBytes = (m: Model) => exportOnnx(m, { name: 'test', producerVersion: 'test' });
const roundTrip = (m: Model) => importOnnx(exportBytes(m), 'sha', { source: 'exported.onnx' }).model;

/** Every parameter nonzero and distinct (compensation modules start as the identity otherwise). */
function randomize(m: Model, seed: number): Model {
  const rng = new Rng(seed);
  for (const p of m.params) rng.fillNormal(p.value, 0, 0.3);
  return m;
}

function expectSameModel(a: Model, b: Model, inputs = 7) {
  expect(b.params.map((p) => [p.name, p.shape])).toEqual(a.params.map((p) => [p.name, p.shape]));
  a.params.forEach((p, i) => {
    expect(Buffer.from(b.params[i].value.buffer).equals(Buffer.from(p.value.buffer)), p.name).toBe(true);
  });
  const x = new Float32Array(inputs * a.inputSize);
  new Rng(99).fillNormal(x, 0.5, 0.3);
  expect(Buffer.from(b.predict(x, inputs, kernels).buffer).equals(Buffer.from(a.predict(x, inputs, kernels).buffer))).toBe(true);
}

describe('xbar export then import', () => {
  it.each(['mlp-op13', 'lenet-op17'])('gives the %s fixture back bit for bit', (name) => {
    const { model } = readOnnxFile(join(fixtures, `${name}.onnx`), { imageShape: [1, 28, 28] });
    const back = roundTrip(model);
    expect(back.spec).toEqual(model.spec);
    expectSameModel(model, back);
  });

  it('gives a model with compensation modules (on a feature map and on a vector) back bit for bit', () => {
    const spec: ModelSpec = {
      inputShape: [8, 8, 2],
      layers: [
        { type: 'conv2d', filters: 4, kernel: 3, padding: 'same' },
        { type: 'compensation', rank: 2, kernel: 3 },
        { type: 'activation', fn: 'relu' },
        { type: 'compensation', rank: 0 },
        { type: 'maxpool', size: 2 },
        { type: 'flatten' },
        { type: 'dense', units: 6 },
        { type: 'compensation', rank: 2 },
        { type: 'activation', fn: 'crelu', cap: 1.3 },
        { type: 'dense', units: 3 },
      ],
    };
    const model = randomize(buildModel(spec, 1), 2);
    const back = roundTrip(model);
    expect(layersOf(back.spec)).toEqual(
      spec.layers.map((l) => (l.type === 'maxpool' ? { ...l, stride: 2 } : l.type === 'conv2d' ? { ...l, stride: 1 } : l)),
    );
    expectSameModel(model, back);
  });

  it('gives a graph network back bit for bit: batch norm (kept as a node), bias-free and padded convolutions, residual add, concat, leaky ReLU, global pooling', () => {
    const spec: ModelSpec = {
      inputShape: [8, 8, 2],
      nodes: [
        { name: 'stem', type: 'conv2d', filters: 4, kernel: 3, pad: 1, bias: false },
        { name: 'bn', type: 'batchnorm', eps: 0.001 },
        { name: 'act', type: 'activation', fn: 'leakyrelu', alpha: 0.1 },
        { name: 'c1', type: 'conv2d', filters: 4, kernel: 3, padding: 'same' },
        { name: 'sum', type: 'add', inputs: ['c1', 'act'] },
        { name: 'side', type: 'conv2d', filters: 2, kernel: 1, inputs: ['act'] },
        { name: 'cat', type: 'concat', inputs: ['sum', 'side'] },
        { name: 'relu', type: 'activation', fn: 'relu' },
        { name: 'gap', type: 'globalavgpool' },
        { name: 'fc', type: 'dense', units: 3 },
      ],
    } as ModelSpec;
    const model = randomize(buildModel(spec, 1), 5);
    // Running variances must be positive: a random one would make the batch norm undefined.
    for (const p of model.params)
      if (p.name.endsWith('runningVar')) for (let i = 0; i < p.value.length; i++) p.value[i] = Math.abs(p.value[i]) + 0.5;
    const back = roundTrip(model);
    const types = (s: ModelSpec) => ('nodes' in s ? s.nodes.map((n) => n.type) : []);
    expect(types(back.spec)).toEqual(types(model.spec));
    expectSameModel(model, back);
  });

  it('round-trips any sequential network bit for bit (property)', () => {
    const act = fc.constantFrom<LayerSpec>(
      { type: 'activation', fn: 'relu' },
      { type: 'activation', fn: 'sigmoid' },
      { type: 'activation', fn: 'tanh' },
      { type: 'activation', fn: 'crelu', cap: 1.3 },
      { type: 'dropout', rate: 0.2 },
    );
    const arb = fc.record({
      h: fc.integer({ min: 6, max: 10 }),
      c: fc.integer({ min: 1, max: 3 }),
      convs: fc.array(
        fc.record({
          filters: fc.integer({ min: 1, max: 4 }),
          kernel: fc.constantFrom(1, 3),
          same: fc.boolean(),
          stride: fc.constantFrom(1, 2),
          act,
        }),
        { maxLength: 2 },
      ),
      pool: fc.constantFrom<'maxpool' | 'avgpool' | null>('maxpool', 'avgpool', null),
      dense: fc.array(fc.record({ units: fc.integer({ min: 1, max: 5 }), act }), { maxLength: 2 }),
      seed: fc.integer({ min: 0, max: 1000 }),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const layers: LayerSpec[] = [];
        let h = a.h;
        for (const cv of a.convs) {
          layers.push(
            { type: 'conv2d', filters: cv.filters, kernel: cv.kernel, stride: cv.stride, padding: cv.same ? 'same' : 'valid' },
            cv.act,
          );
          h = Math.floor((h + (cv.same ? cv.kernel - 1 : 0) - cv.kernel) / cv.stride) + 1;
        }
        if (a.pool && h >= 2) layers.push({ type: a.pool, size: 2 });
        layers.push({ type: 'flatten' });
        for (const d of a.dense) layers.push({ type: 'dense', units: d.units }, d.act);
        layers.push({ type: 'dense', units: 3 });
        const model = randomize(buildModel({ inputShape: [a.h, a.h, a.c], layers }, a.seed), a.seed);
        expectSameModel(model, roundTrip(model), 3);
      }),
      { numRuns: 40, seed: 7 },
    );
  });
});

describeWith(['onnx'], "exported files pass the ONNX project's own checker", () => {
  it('onnx.checker.check_model(full_check=True) accepts the exports of the fixtures and of a model with compensation', () => {
    const paths: string[] = [];
    for (const name of ['mlp-op13', 'lenet-op17', 'resnet-op17']) {
      const { model } = readOnnxFile(join(fixtures, `${name}.onnx`), { imageShape: [1, 28, 28] });
      paths.push(join(work, `${name}.onnx`));
      writeFileSync(paths[paths.length - 1], exportBytes(model));
    }
    const comp = randomize(
      buildModel(
        {
          inputShape: [6, 6, 1],
          layers: [
            { type: 'conv2d', filters: 3, kernel: 3 },
            { type: 'compensation', rank: 1, kernel: 3 },
            { type: 'activation', fn: 'crelu', cap: 1 },
            { type: 'flatten' },
            { type: 'dense', units: 4 },
            { type: 'compensation', rank: 2 },
          ],
        },
        3,
      ),
      4,
    );
    paths.push(join(work, 'comp.onnx'));
    writeFileSync(paths[paths.length - 1], exportBytes(comp));
    const py =
      'import sys, onnx\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\nprint("ok", len(sys.argv) - 1)';
    const r = spawnSync('/usr/bin/python3', ['-c', py, ...paths], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(`ok ${paths.length}`);
  });
});
