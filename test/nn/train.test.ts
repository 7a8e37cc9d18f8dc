import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import type { Kernels } from '../../src/core/kernels.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { Rng } from '../../src/core/rng.js';
import { take, trainValSplit } from '../../src/data/index.js';
import { loadDataset } from '../../src/data/node.js';
import { loadModel, saveModel } from '../../src/nn/io-node.js';
import { softmaxCrossEntropy } from '../../src/nn/loss.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import type { Param } from '../../src/nn/tensor.js';
import { evaluate, train } from '../../src/nn/train.js';

const kernels = loadKernels();
const digits = loadDataset('digits8', { limitTrain: 3000, limitTest: 1000 });
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'xbar-nn-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cfg = { epochs: 4, batchSize: 32, optimizer: { name: 'adam' as const, lr: 0.01 }, schedule: 'cosine' as const, seed: 3 };

describe('training', () => {
  it('drops the loss and beats chance on a small digits8 subset', () => {
    const model = buildModel(presets['mlp-paper'].spec, 1);
    const before = evaluate(model, digits.test, kernels);
    const history = train(model, digits.train, null, cfg, kernels);
    const after = evaluate(model, digits.test, kernels);
    expect(history).toHaveLength(4);
    expect(history[3].loss).toBeLessThan(0.6 * history[0].loss);
    expect(after.loss).toBeLessThan(before.loss);
    expect(after.accuracy).toBeGreaterThan(0.6);
  });

  it('a small CNN learns too (conv and pooling backward in a real loop)', () => {
    const mnist = loadDataset('mnist', { limitTrain: 1500, limitTest: 500 });
    const spec = {
      inputShape: [28, 28, 1] as [number, number, number],
      layers: [
        { type: 'conv2d' as const, filters: 4, kernel: 5, stride: 2 },
        { type: 'activation' as const, fn: 'relu' as const },
        { type: 'maxpool' as const, size: 2 },
        { type: 'flatten' as const },
        { type: 'dense' as const, units: 10 },
      ],
    };
    const model = buildModel(spec, 2);
    const history = train(model, mnist.train, null, { ...cfg, epochs: 3, optimizer: { name: 'adam', lr: 0.005 } }, kernels);
    expect(history[2].loss).toBeLessThan(0.5 * history[0].loss);
    expect(evaluate(model, mnist.test, kernels).accuracy).toBeGreaterThan(0.7);
  });

  it('training only some parameters: the same gradients for them, none computed for the frozen ones', () => {
    const spec = {
      inputShape: [8, 8, 1] as [number, number, number],
      layers: [
        { type: 'conv2d' as const, filters: 3, kernel: 3, padding: 'same' as const },
        { type: 'activation' as const, fn: 'relu' as const },
        { type: 'compensation' as const, rank: 2 },
        { type: 'conv2d' as const, filters: 4, kernel: 3, stride: 2 },
        { type: 'activation' as const, fn: 'relu' as const },
        { type: 'flatten' as const },
        { type: 'dense' as const, units: 10 },
      ],
    };
    const x = { data: digits.train.x.subarray(0, 16 * 64), shape: [16, 64] };
    const y = digits.train.y.subarray(0, 16);
    const isModule = (p: Param) => p.name.startsWith('comp');
    const grads = (pick?: (p: Param) => boolean) => {
      const model = buildModel(spec, 4);
      for (const p of model.params) if (p.name.includes('up')) p.value.fill(0.1); // modules not at identity
      const ctx = { kernels, training: true, rng: new Rng(1), ...(pick && { trainable: new Set(model.params.filter(pick)) }) };
      model.zeroGrad();
      model.backward(softmaxCrossEntropy(model.forward(x, ctx), y).grad, ctx);
      return model.params.map((p) => ({ name: p.name, grad: Array.from(p.grad) }));
    };
    const all = grads();
    const some = grads(isModule);
    expect(some.some((p) => p.name.startsWith('comp'))).toBe(true);
    for (const [i, p] of some.entries()) {
      if (p.name.startsWith('comp')) expect(p.grad).toEqual(all[i].grad);
      else expect(p.grad.every((g) => g === 0)).toBe(true);
    }
    expect(all.filter((p) => !p.name.startsWith('comp')).every((p) => p.grad.some((g) => g !== 0))).toBe(true);
  });

  it('dropout: false trains with the dropout layers off (the loss is the evaluation loss at lr 0)', () => {
    const spec = {
      inputShape: [8, 8, 1] as [number, number, number],
      layers: [
        { type: 'flatten' as const },
        { type: 'dense' as const, units: 32 },
        { type: 'activation' as const, fn: 'relu' as const },
        { type: 'dropout' as const, rate: 0.5 },
        { type: 'dense' as const, units: 10 },
      ],
    };
    const data = take(digits.train, 500);
    const lossWith = (dropout?: boolean) => {
      const model = buildModel(spec, 5);
      const c = { ...cfg, epochs: 1, optimizer: { name: 'sgd' as const, lr: 0 }, ...(dropout === false && { dropout }) };
      return { train: train(model, data, null, c, kernels)[0].loss, eval: evaluate(model, data, kernels).loss };
    };
    const off = lossWith(false);
    expect(off.train).toBeCloseTo(off.eval, 5);
    const on = lossWith();
    expect(Math.abs(on.train - on.eval)).toBeGreaterThan(0.01);
  });

  it('same seed, same weights and accuracy; the native and portable kernels agree closely', () => {
    const run = (k: Kernels = kernels) => {
      const m = buildModel(presets['mlp-paper'].spec, 9);
      const { train: tr, val } = trainValSplit(digits.train, 0.1, 4);
      train(m, tr, val, { ...cfg, epochs: 2 }, k);
      return { m, acc: evaluate(m, digits.test, k).accuracy };
    };
    const a = run();
    const b = run();
    for (const [i, p] of a.m.params.entries())
      expect(Buffer.from(p.value.buffer).equals(Buffer.from(b.m.params[i].value.buffer))).toBe(true);
    expect(a.acc).toBe(b.acc);
    const c = run(jsKernels);
    expect(Math.abs(c.acc - a.acc)).toBeLessThan(0.03);
  });
});

describe('saved model format', () => {
  it('round-trips bit-exactly with the same predictions', () => {
    const model = buildModel(presets.lenet5.spec, 4);
    const dir = tmp();
    saveModel(dir, model, { dataset: 'mnist', note: 'test' });
    const { model: back, file } = loadModel(dir);
    expect(file.version).toBe(1);
    expect(file.meta.note).toBe('test');
    model.params.forEach((p, i) => {
      expect(back.params[i].name).toBe(p.name);
      expect(Buffer.from(back.params[i].value.buffer).equals(Buffer.from(p.value.buffer))).toBe(true);
    });
    const x = take(loadDataset('mnist', { limitTrain: 1, limitTest: 20 }).test, 20).x;
    expect(back.predict(x, 20, kernels)).toEqual(model.predict(x, 20, kernels));
  });

  it('rejects a missing, truncated, corrupted or future-version model with a clear error', () => {
    const dir = tmp();
    expect(() => loadModel(join(dir, 'nope'))).toThrow(/no saved model/);
    saveModel(dir, buildModel(presets['mlp-paper'].spec, 1), {});
    const w = readFileSync(join(dir, 'weights.bin'));
    writeFileSync(join(dir, 'weights.bin'), w.subarray(0, 100));
    expect(() => loadModel(dir)).toThrow(/truncated/);
    const bad = Buffer.from(w);
    bad[5] ^= 0xff;
    writeFileSync(join(dir, 'weights.bin'), bad);
    expect(() => loadModel(dir)).toThrow(/checksum/);
    writeFileSync(join(dir, 'weights.bin'), w);
    const header = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...header, version: 99 }));
    expect(() => loadModel(dir)).toThrow(/version 99 is not supported/);
    writeFileSync(join(dir, 'model.json'), '{"format": "xbar-mod');
    expect(() => loadModel(dir)).toThrow(XbarError);
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...header, spec: { ...header.spec, layers: [{ type: 'dense', units: 3 }] } }));
    expect(() => loadModel(dir)).toThrow(XbarError);
  });
});
