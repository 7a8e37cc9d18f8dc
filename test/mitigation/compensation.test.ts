import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jsKernels } from '../../src/core/kernels-js.js';
import { Rng } from '../../src/core/rng.js';
import { resolveCircuit } from '../../src/crossbar/circuit.js';
import { runMonteCarlo } from '../../src/crossbar/montecarlo.js';
import { planCrossbars } from '../../src/crossbar/plan.js';
import { loadDataset } from '../../src/data/node.js';
import { resolveDevice } from '../../src/device/config.js';
import {
  compensatedSpec,
  compensationCost,
  insertionIndex,
  networkCost,
  sitesOf,
  trainCompensation,
  withCompensation,
  withoutCompensation,
} from '../../src/mitigation/correctnet/compensation.js';
import { head, mean, softwareChipAccuracy } from '../../src/mitigation/correctnet/correctnet.js';
import { Compensation } from '../../src/nn/compensation.js';
import { loadModel, saveModel } from '../../src/nn/io-node.js';
import type { Context } from '../../src/nn/layer.js';
import { buildModel } from '../../src/nn/model.js';
import { presets } from '../../src/nn/presets.js';
import { evaluate, train } from '../../src/nn/train.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Loss = sum(y * r) for a fixed random r: its gradient w.r.t. y is r. */
function gradCheck(layer: Compensation, inShape: number[], batch: number, seed: number) {
  const rng = new Rng(seed);
  for (const p of layer.params) rng.fillNormal(p.value, 0, 0.5);
  const x = { data: rng.fillNormal(new Float32Array(batch * inShape.reduce((a, b) => a * b, 1)), 0, 1), shape: [batch, ...inShape] };
  const r = rng.fillNormal(new Float32Array(x.data.length), 0, 1);
  const ctx: Context = { kernels: jsKernels, training: true };
  const loss = () => {
    const y = layer.forward(x, { kernels: jsKernels, training: false });
    let s = 0;
    for (let i = 0; i < y.data.length; i++) s += y.data[i] * r[i];
    return s;
  };
  for (const p of layer.params) p.grad.fill(0);
  layer.forward(x, ctx);
  const dx = layer.backward({ data: r, shape: x.shape }, ctx, true);
  const eps = 3e-3;
  const check = (arr: Float32Array, analytic: Float32Array) => {
    for (let i = 0; i < arr.length; i += Math.max(1, Math.floor(arr.length / 12))) {
      const v = arr[i];
      const mid = loss();
      arr[i] = v + eps;
      const up = loss();
      arr[i] = v - eps;
      const down = loss();
      arr[i] = v;
      // A ReLU kink inside [v - eps, v + eps] makes the one-sided slopes disagree: skip that point.
      if (Math.abs((up - mid) / eps - (mid - down) / eps) > 1e-2 * Math.max(1, Math.abs((up - down) / (2 * eps)))) continue;
      const num = (up - down) / (2 * eps);
      expect(Math.abs(analytic[i] - num)).toBeLessThan(2e-2 * Math.max(1, Math.abs(num)));
    }
  };
  for (const p of layer.params) check(p.value, p.grad);
  if (dx) check(x.data, dx.data);
}

describe('compensation layer', () => {
  it.each([
    [[7], 0, 1],
    [[7], 3, 1],
    [[5, 5, 3], 2, 3],
    [[4, 6, 2], 4, 1],
  ])('input %j, rank %i, kernel %i: gradients match finite differences', (inShape, rank, kernel) => {
    const layer = new Compensation(inShape, rank, kernel, 'comp0', new Rng(1));
    gradCheck(layer, inShape, 3, rank * 7 + kernel);
  });

  it.each([1, 3])('kernel %i: its arrays kept between steps give what fresh ones give, whatever the batch sizes', (kernel) => {
    const inShape = [5, 4, 3];
    const per = 5 * 4 * 3;
    const make = () => {
      const l = new Compensation(inShape, 4, kernel, 'comp0', new Rng(2));
      for (const p of l.params) new Rng(3).fillNormal(p.value, 0, 0.5);
      return l;
    };
    const kept = make();
    const ctx: Context = { kernels: jsKernels, training: true };
    const step = (l: Compensation, batch: number, seed: number) => {
      const rng = new Rng(seed);
      const x = { data: rng.fillNormal(new Float32Array(batch * per)), shape: [batch, ...inShape] };
      for (const p of l.params) p.grad.fill(0);
      const y = Array.from(l.forward(x, ctx).data);
      const dx = l.backward({ data: rng.fillNormal(new Float32Array(batch * per)), shape: x.shape }, ctx, true);
      return [y, Array.from(dx?.data ?? []), ...l.params.map((p) => Array.from(p.grad))];
    };
    for (const [batch, seed] of [
      [3, 1],
      [3, 2],
      [2, 3],
      [3, 4],
    ])
      expect(step(kept, batch, seed)).toEqual(step(make(), batch, seed));
  });

  it('starts as the identity, so inserting modules changes nothing until they are trained', () => {
    const base = buildModel(presets.lenet5.spec, 3);
    const m = withCompensation(base, [
      { layer: 0, rank: 2, kernel: 3 },
      { layer: 3, rank: 4 },
      { layer: 4, rank: 0 },
    ]);
    const x = new Rng(5).fillNormal(new Float32Array(4 * 784), 0.3, 0.3);
    expect(Array.from(m.predict(x, 4, jsKernels))).toEqual(Array.from(base.predict(x, 4, jsKernels)));
    expect(sitesOf(m)).toEqual([
      { layer: 0, rank: 2, kernel: 3 },
      { layer: 3, rank: 4 },
      { layer: 4, rank: 0 },
    ]);
    expect(Array.from(withoutCompensation(m).predict(x, 4, jsKernels))).toEqual(Array.from(base.predict(x, 4, jsKernels)));
  });

  it('goes after the activation and pooling of its layer, and is counted apart from the network', () => {
    const spec = presets.lenet5.spec;
    // conv 0, relu, pool | conv 1, relu, pool | flatten, dense 2, relu | dense 3, relu | dense 4
    expect(insertionIndex(spec, 0)).toBe(3);
    expect(insertionIndex(spec, 1)).toBe(6);
    expect(insertionIndex(spec, 4)).toBe(spec.layers.length);
    expect(() => insertionIndex(spec, 5)).toThrow(/weighted layers 0..4/);
    expect(compensatedSpec(spec, [{ layer: 1, rank: 2 }]).layers[6]).toEqual({ type: 'compensation', rank: 2 });
    const base = buildModel(spec, 1);
    const m = withCompensation(base, [{ layer: 2, rank: 8 }]);
    // 120 channels: scale + shift (240), down 120x8 + 8, up 8x120 + 120.
    const c = compensationCost(m);
    expect(c.params).toBe(240 + 960 + 8 + 960 + 120);
    expect(c.params).toBe(m.parameterCount - base.parameterCount);
    expect(networkCost(m)).toEqual(networkCost(base));
    expect(c.paramsShare).toBeCloseTo(c.params / base.parameterCount, 10);
  });

  it('saves and loads with its weights', () => {
    const base = buildModel(presets['mlp-paper'].spec, 1);
    const m = withCompensation(base, [{ layer: 1, rank: 3 }]);
    for (const p of m.params) if (p.name.startsWith('comp')) new Rng(2).fillNormal(p.value, 0, 0.1);
    const dir = mkdtempSync(join(tmpdir(), 'xbar-comp-'));
    dirs.push(dir);
    saveModel(dir, m, {});
    const { model } = loadModel(dir);
    const x = new Rng(3).fillNormal(new Float32Array(5 * 64), 0.5, 0.2);
    expect(Array.from(model.predict(x, 5, jsKernels))).toEqual(Array.from(m.predict(x, 5, jsKernels)));
  });
});

describe('compensation training', () => {
  it('trains only the modules and recovers accuracy under variation on a small network', () => {
    const digits = loadDataset('digits8', { limitTrain: 3000, limitTest: 1000 });
    const base = buildModel(presets['mlp-paper'].spec, 1);
    const cfg = { epochs: 8, batchSize: 64, optimizer: { name: 'adam' as const, lr: 0.01 }, schedule: 'cosine' as const, seed: 2 };
    train(base, digits.train, null, cfg, jsKernels);
    const device = resolveDevice('reram-generic', { programSigma: 0.3 });
    const test = head(digits.test, 1000);
    const before = mean(softwareChipAccuracy(base, test, device, 10, 77, jsKernels));
    const m = withCompensation(base, [
      { layer: 0, rank: 8 },
      { layer: 1, rank: 8 },
      { layer: 2, rank: 8 },
      { layer: 3, rank: 8 },
    ]);
    const frozen = base.params.map((p) => Float32Array.from(p.value));
    trainCompensation(m, digits.train, null, { epochs: 4, batchSize: 64, lr: 0.01, device, seed: 3 }, jsKernels);
    // The network's own weights did not move.
    const byName = new Map(m.params.map((p) => [p.name, p]));
    base.params.forEach((p, i) => {
      expect(byName.get(p.name)?.value).toEqual(frozen[i]);
    });
    const after = mean(softwareChipAccuracy(m, test, device, 10, 77, jsKernels));
    expect(after).toBeGreaterThan(before + 0.05);
    // The crossbar simulator agrees: the modules run digitally after the analog layers.
    const plan = (mm: typeof m) => planCrossbars(mm, resolveCircuit({}), digits.train.x.subarray(0, 500 * 64), 500, jsKernels);
    const simBefore = runMonteCarlo(base, plan(base), device, [], test, { chips: 10, seed: 5 }, jsKernels).summary.mean;
    const simAfter = runMonteCarlo(m, plan(m), device, [], test, { chips: 10, seed: 5 }, jsKernels).summary.mean;
    expect(simAfter).toBeGreaterThan(simBefore + 0.05);
    expect(evaluate(m, test, jsKernels).accuracy).toBeGreaterThan(0.5);
  });
});
