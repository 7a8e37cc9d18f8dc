import { describe, expect, it } from 'vitest';
import type { Kernels } from '../../src/core/kernels.js';
import { jsKernels } from '../../src/core/kernels-js.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import { Rng } from '../../src/core/rng.js';
import { Activation, apply } from '../../src/nn/activation.js';
import { CONV_INPUT_GRAD_MAX_FILTERS, Conv2d } from '../../src/nn/conv.js';
import type { LayerSpec } from '../../src/nn/layer.js';
import { distillation, softmaxCrossEntropy } from '../../src/nn/loss.js';
import { buildModel } from '../../src/nn/model.js';
import type { ModelSpec } from '../../src/nn/spec.js';

/** Loss of the model on a fixed batch, in float64 where we can: finite differences need it. */
function lossOf(spec: ModelSpec, layersSeed: number, x: Float32Array, y: Uint8Array, batch: number) {
  const model = buildModel(spec, layersSeed);
  const ctx = { kernels: jsKernels, training: true, rng: new Rng(0) };
  const run = () => softmaxCrossEntropy(model.forward({ data: x, shape: [batch, model.inputSize] }, ctx), y);
  return { model, ctx, run };
}

function gradCheck(spec: ModelSpec, batch = 3) {
  const rng = new Rng(7);
  const inSize = spec.inputShape.reduce((a, b) => a * b, 1);
  const x = rng.fillNormal(new Float32Array(batch * inSize));
  const y = new Uint8Array(batch).map(() => rng.int(4));
  const { model, ctx, run } = lossOf(spec, 3, x, y, batch);
  model.zeroGrad();
  const r = run();
  model.backward(r.grad, ctx);
  let checked = 0;
  for (const p of model.params) {
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

const head: LayerSpec[] = [{ type: 'flatten' }, { type: 'dense', units: 4 }];

describe('backpropagation matches finite differences', () => {
  for (const fn of ['relu', 'sigmoid', 'tanh', 'crelu', 'linear'] as const) {
    it(`dense + ${fn}`, () => {
      gradCheck({
        inputShape: [1, 1, 5],
        layers: [{ type: 'flatten' }, { type: 'dense', units: 6 }, { type: 'activation', fn, cap: 0.8 }, { type: 'dense', units: 4 }],
      });
    });
  }
  it('conv2d same/valid, stride 2, max and avg pooling', () => {
    gradCheck({
      inputShape: [7, 7, 2],
      layers: [
        { type: 'conv2d', filters: 3, kernel: 3, padding: 'same' },
        { type: 'activation', fn: 'tanh' },
        { type: 'maxpool', size: 2 },
        { type: 'conv2d', filters: 2, kernel: 2, padding: 'valid' },
        { type: 'avgpool', size: 2, stride: 1 },
        ...head,
      ],
    });
    gradCheck({ inputShape: [6, 6, 1], layers: [{ type: 'conv2d', filters: 2, kernel: 3, stride: 2, padding: 'same' }, ...head] });
  });
});

describe('conv2d', () => {
  it('equals a direct convolution', () => {
    const rng = new Rng(1);
    const spec: ModelSpec = { inputShape: [5, 4, 2], layers: [{ type: 'conv2d', filters: 3, kernel: 3, padding: 'same' }] };
    const model = buildModel(spec, 2);
    const conv = model.layers[0] as import('../../src/nn/conv.js').Conv2d;
    const x = rng.fillNormal(new Float32Array(5 * 4 * 2));
    const y = model.forward({ data: x, shape: [1, 40] }, { kernels: jsKernels, training: false }).data;
    const W = conv.weight.value;
    for (let oy = 0; oy < 5; oy++)
      for (let ox = 0; ox < 4; ox++)
        for (let f = 0; f < 3; f++) {
          let s = conv.bias.value[f];
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++)
              for (let c = 0; c < 2; c++) {
                const iy = oy + ky - 1;
                const ix = ox + kx - 1;
                if (iy < 0 || iy >= 5 || ix < 0 || ix >= 4) continue;
                s += x[(iy * 4 + ix) * 2 + c] * W[((ky * 3 + kx) * 2 + c) * 3 + f];
              }
          expect(y[(oy * 4 + ox) * 3 + f]).toBeCloseTo(s, 5);
        }
  });
});

const kernelSets: [string, Kernels][] = [
  ['portable', jsKernels],
  ['native (or portable without the addon)', loadKernels({ threads: 2 })],
];

/** Where two arrays differ (toEqual on arrays of 10^5 floats takes minutes to print a mismatch). */
const mismatches = (a: Float32Array, b: Float32Array) => a.length - b.length + a.filter((v, i) => !Object.is(v, b[i])).length;

describe('conv2d with frozen weights (per-chip calibration)', () => {
  // [input, filters, kernel, padding]: few filters and long rows take convInputGrad (LeNet-5's
  // second convolution), many filters the GEMM into unrolled rows and col2im.
  const layers: [number[], number, number, 'valid' | 'same', 'convInputGrad' | 'gemm'][] = [
    [[14, 14, 6], 16, 5, 'valid', 'convInputGrad'],
    [[6, 6, 8], CONV_INPUT_GRAD_MAX_FILTERS + 8, 3, 'same', 'gemm'],
  ];
  for (const [name, kernels] of kernelSets)
    for (const [inShape, filters, k, padding, path] of layers)
      it(`runs the inference product, keeps no unrolled rows, and gives the input gradient by ${path} (${name})`, () => {
        const rng = new Rng(3);
        const conv = new Conv2d(inShape, filters, k, 1, padding, 'l', rng);
        const [oh, ow] = conv.outShape;
        const batch = 20;
        const x = rng.fillNormal(new Float32Array(batch * inShape[0] * inShape[1] * inShape[2]));
        // The zeros max pooling leaves in a gradient: three values of four.
        const dy = rng.fillNormal(new Float32Array(batch * oh * ow * filters)).map((v, i) => (i % 4 ? 0 : v));
        const frozen = { kernels, training: true, trainable: new Set([]) };
        const product = new Float32Array(batch * oh * ow * filters);
        conv.product(x, batch, kernels, conv.weight.value, conv.bias.value, product);
        const g = { batch, ...conv.geom };
        const rowLen = k * k * inShape[2];
        const dcols = new Float32Array(batch * oh * ow * rowLen);
        kernels.sgemm(false, true, batch * oh * ow, rowLen, filters, 1, dy, filters, conv.weight.value, filters, 0, dcols, rowLen);
        const viaRows = new Float32Array(x.length);
        kernels.col2im(dcols, g, viaRows);
        const fused = new Float32Array(x.length);
        kernels.convInputGrad(dy, g, conv.weight.value, fused);
        // Twice: the second step reuses the buffers.
        for (let step = 0; step < 2; step++) {
          const y = conv.forward({ data: x, shape: [batch, ...inShape] }, frozen);
          expect(mismatches(y.data, product)).toBe(0);
          const dx = conv.backward({ data: dy, shape: y.shape }, frozen);
          expect(dx && mismatches(dx.data, path === 'gemm' ? viaRows : fused)).toBe(0);
          // Either way the same gradient up to the order of the float sums.
          dx?.data.forEach((v, i) => {
            expect(Math.abs(v - viaRows[i])).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(viaRows[i])));
          });
        }
        expect(conv.weight.grad.every((v) => v === 0) && conv.bias.grad.every((v) => v === 0)).toBe(true);
        expect(() => conv.backward({ data: dy, shape: [batch, oh, ow, filters] }, frozen)).toThrow(/before a training forward pass/);
      });
});

describe('relu without a branch per value', () => {
  it('gives Math.max(x, 0) and the gradient where x > 0, bit for bit, on ordinary and special values', () => {
    const rng = new Rng(5);
    const special = [0, -0, Number.NaN, Infinity, -Infinity, 1e-45, -1e-45, 3.4e38, -3.4e38];
    const n = 1000;
    const x = Float32Array.from({ length: n }, (_, i) => (i < special.length ? special[i] : rng.normal()));
    // The gradient's special values against every sign of x.
    const g = Float32Array.from({ length: n }, (_, i) => (i < 2 * special.length ? special[(i * 7) % special.length] : rng.normal()));
    const y = new Float32Array(n);
    apply('relu', 1, x, y);
    expect(
      mismatches(
        y,
        Float32Array.from(x, (v) => Math.max(v, 0)),
      ),
    ).toBe(0);
    const act = new Activation([n], 'relu');
    act.forward({ data: x, shape: [1, n] }, { kernels: jsKernels, training: true });
    const dx = act.backward({ data: g, shape: [1, n] }, { kernels: jsKernels, training: true });
    expect(
      mismatches(
        dx.data,
        Float32Array.from(g, (v, i) => (x[i] > 0 ? v : 0)),
      ),
    ).toBe(0);
  });
});

describe('distillation loss', () => {
  it('is zero at the teacher, and its gradient matches finite differences', () => {
    const rng = new Rng(4);
    const [batch, k, t] = [3, 5, 2];
    const z = new Float32Array(batch * k);
    const teacher = new Float32Array(batch * k);
    rng.fillNormal(z, 0, 2);
    rng.fillNormal(teacher, 0, 2);
    const labels = Uint8Array.from([0, 3, 4]);
    expect(distillation({ data: teacher.slice(), shape: [batch, k] }, teacher, t, labels).loss).toBeCloseTo(0, 6);
    const r = distillation({ data: z, shape: [batch, k] }, teacher, t, labels);
    expect(r.loss).toBeGreaterThan(0);
    const h = 1e-2;
    for (let i = 0; i < z.length; i++) {
      const at = (d: number) => {
        const zz = Float32Array.from(z);
        zz[i] += d;
        return distillation({ data: zz, shape: [batch, k] }, teacher, t, labels).loss;
      };
      expect((at(h) - at(-h)) / (2 * h)).toBeCloseTo(r.grad.data[i], 3);
    }
  });
});
