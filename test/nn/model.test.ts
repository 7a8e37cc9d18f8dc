import { describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { Rng } from '../../src/core/rng.js';
import { buildModel, setWeights } from '../../src/nn/model.js';
import { makeOptimizer } from '../../src/nn/optim.js';
import { getPreset, presets } from '../../src/nn/presets.js';
import { parseModelSpec } from '../../src/nn/spec.js';
import { param } from '../../src/nn/tensor.js';

describe('presets', () => {
  const expected: Record<string, number> = {
    // 64*8+8 + 8*8+8 + 8*8+8 + 8*10+10
    'mlp-paper': 754,
    // 784*256+256 + 256*128+128 + 128*64+64 + 64*10+10
    mlp: 242762,
    // 5*5*6+6 + 5*5*6*16+16 + 400*120+120 + 120*84+84 + 84*10+10
    lenet5: 61706,
  };
  for (const [name, preset] of Object.entries(presets)) {
    it(`${name}: forward gives [batch, 10] and the expected parameter count`, () => {
      const m = buildModel(preset.spec, 1);
      const batch = 3;
      const x = new Rng(2).fillNormal(new Float32Array(batch * m.inputSize));
      const y = m.forward({ data: x, shape: [batch, m.inputSize] }, { kernels: jsKernels, training: false });
      expect(y.shape).toEqual([batch, 10]);
      expect(y.data.every(Number.isFinite)).toBe(true);
      if (expected[name]) expect(m.parameterCount).toBe(expected[name]);
    });
  }
  it('the paper network has 4 synaptic arrays (dense layers) 64-8-8-8-10', () => {
    const m = buildModel(presets['mlp-paper'].spec, 1);
    const dense = m.layers.filter((l) => l.spec.type === 'dense');
    expect(dense.map((l) => l.inShape[0])).toEqual([64, 8, 8, 8]);
  });
  it('unknown preset names the valid ones', () => {
    expect(() => getPreset('resnet')).toThrow(/unknown model preset 'resnet'.*mlp-paper/);
  });
});

describe('model spec validation', () => {
  it('rejects unknown keys, bad values and impossible shapes with a readable message', () => {
    expect(() => parseModelSpec({ inputShape: [8, 8, 1], layers: [{ type: 'dense', unit: 3 }] }, 'x.json')).toThrow(XbarError);
    expect(() => parseModelSpec({ inputShape: [8, 8, 1], layers: [{ type: 'dense', units: -3 }] }, 'x.json')).toThrow(/layers\.0\.units/);
    expect(() => parseModelSpec({ inputShape: [8, 8], layers: [] }, 'x.json')).toThrow(/invalid model spec in x.json/);
    expect(() => buildModel({ inputShape: [8, 8, 1], layers: [{ type: 'dense', units: 3 }] }, 1)).toThrow(/flatten/);
    expect(() => buildModel({ inputShape: [4, 4, 1], layers: [{ type: 'conv2d', filters: 1, kernel: 5 }] }, 1)).toThrow(/does not fit/);
  });
  it('same seed gives the same initial weights, another seed other ones', () => {
    const a = buildModel(presets.lenet5.spec, 5);
    const b = buildModel(presets.lenet5.spec, 5);
    const c = buildModel(presets.lenet5.spec, 6);
    for (const [i, p] of a.params.entries()) expect(p.value).toEqual(b.params[i].value);
    expect(a.params[0].value).not.toEqual(c.params[0].value);
  });
  it('setWeights makes a copy that computes the same outputs and shares no storage', () => {
    const a = buildModel(presets.lenet5.spec, 5);
    const b = setWeights(
      buildModel(presets.lenet5.spec, 6),
      a.params.map((p) => p.value),
    );
    const x = Float32Array.from({ length: 2 * 28 * 28 }, (_, i) => (i % 7) / 7);
    expect(b.predict(x, 2, jsKernels)).toEqual(a.predict(x, 2, jsKernels));
    b.params[0].value[0] += 1;
    expect(a.params[0].value[0]).not.toBe(b.params[0].value[0]);
  });
});

describe('optimizers', () => {
  for (const name of ['adam', 'sgd'] as const) {
    it(`${name} minimises a quadratic`, () => {
      const p = param('w', [4]);
      p.value.set([3, -2, 1, 5]);
      const opt = makeOptimizer({ name, lr: name === 'adam' ? 0.1 : 0.05, momentum: 0.9 });
      for (let t = 0; t < 300; t++) {
        for (let i = 0; i < 4; i++) p.grad[i] = 2 * (p.value[i] - i);
        opt.step([p], name === 'adam' ? 0.1 : 0.05);
      }
      for (let i = 0; i < 4; i++) expect(p.value[i]).toBeCloseTo(i, 1);
    });
  }
});
