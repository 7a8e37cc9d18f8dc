import { describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { loadKernels } from '../../src/core/kernels-node.js';
import type { LayerSpec } from '../../src/nn/layer.js';
import type { ModelSpec } from '../../src/nn/spec.js';
import { importOnnx } from '../../src/onnx/import.js';
import { SUPPORTED_OPS } from '../../src/onnx/lift.js';
import { OnnxBuilder } from './build.js';

const kernels = loadKernels({});
/** A sequential spec's layers (what these networks import as). */
const layersOf = (s: ModelSpec): LayerSpec[] => ('layers' in s ? s.layers : []);
const load = (bytes: Uint8Array, imageShape?: [number, number, number]) => importOnnx(bytes, 'sha', { source: 'test.onnx', imageShape });
const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(XbarError);
    return (e as Error).message;
  }
  throw new Error('expected an XbarError');
};

/** ONNX semantics, written out plainly in NCHW: the reference the import must reproduce. */
function conv(x: Float32Array, [c, h, w]: number[], wt: Float32Array, b: Float32Array, f: number, k: number, s: number, p: number) {
  const oh = Math.floor((h + 2 * p - k) / s) + 1;
  const ow = Math.floor((w + 2 * p - k) / s) + 1;
  const y = new Float32Array(f * oh * ow);
  for (let o = 0; o < f; o++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++) {
        let acc = b[o];
        for (let ch = 0; ch < c; ch++)
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const yy = i * s + ky - p;
              const xx = j * s + kx - p;
              if (yy >= 0 && yy < h && xx >= 0 && xx < w) acc += x[(ch * h + yy) * w + xx] * wt[((o * c + ch) * k + ky) * k + kx];
            }
        y[(o * oh + i) * ow + j] = acc;
      }
  return { y, shape: [f, oh, ow] };
}
function maxpool(x: Float32Array, [c, h, w]: number[], k: number) {
  const oh = Math.floor(h / k);
  const ow = Math.floor(w / k);
  const y = new Float32Array(c * oh * ow).fill(-Infinity);
  for (let ch = 0; ch < c; ch++)
    for (let i = 0; i < oh * k; i++)
      for (let j = 0; j < ow * k; j++) {
        const o = (ch * oh + Math.floor(i / k)) * ow + Math.floor(j / k);
        y[o] = Math.max(y[o], x[(ch * h + i) * w + j]);
      }
  return { y, shape: [c, oh, ow] };
}
/** NCHW image -> NHWC, as xbar's datasets hold images. */
function toNhwc(x: Float32Array, [c, h, w]: number[]) {
  const y = new Float32Array(x.length);
  for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) y[p * c + ch] = x[ch * h * w + p];
  return y;
}
const init = (b: OnnxBuilder, name: string) => b.inits.find((t) => t.name === name)!;
const values = (b: OnnxBuilder, name: string) => new Float32Array(init(b, name).rawData!.slice().buffer);

describe('importing a conv network', () => {
  it('gives ONNX semantics in NHWC: conv, unfused batch norm, ReLU, max pool, flatten (3 channels), Gemm with transB', () => {
    const b = new OnnxBuilder(['N', 2, 6, 6]);
    const wc = b.init([3, 2, 3, 3]);
    const bc = b.init([3]);
    const gamma = b.init([3], [1.5, 0.5, 2]);
    const beta = b.init([3], [0.1, -0.2, 0.3]);
    const mean = b.init([3], [0.05, -0.1, 0.2]);
    const variance = b.init([3], [0.5, 2, 1]);
    const wg = b.init([4, 27]);
    const bg = b.init([4]);
    let t = b.node('Conv', ['x', wc, bc], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
    t = b.node('BatchNormalization', [t, gamma, beta, mean, variance], { epsilon: 1e-3 });
    t = b.node('Relu', [t]);
    t = b.node('MaxPool', [t], { kernel_shape: [2, 2], strides: [2, 2] });
    t = b.node('Flatten', [t], { axis: 1 });
    t = b.node('Gemm', [t, wg, bg], { transB: 1 });
    const { model, provenance } = load(b.bytes(t, ['N', 4]));
    expect(model.spec.inputShape).toEqual([6, 6, 2]);
    expect(provenance.transformations[0]).toMatch(/folded BatchNormalization node 'batchnormalization1' into Conv node 'conv0'/);

    const x = new Float32Array(2 * 36).map((_, i) => Math.sin(i * 0.7));
    let h = conv(x, [2, 6, 6], values(b, wc), values(b, bc), 3, 3, 1, 1);
    const [g, be, m, v] = [gamma, beta, mean, variance].map((n) => values(b, n));
    h.y = h.y.map((val, i) => {
      const ch = Math.floor(i / 36);
      return Math.max(0, ((val - m[ch]) / Math.sqrt(v[ch] + 1e-3)) * g[ch] + be[ch]);
    });
    h = maxpool(h.y, h.shape, 2);
    const wgv = values(b, wg);
    const want = Array.from({ length: 4 }, (_, o) => values(b, bg)[o] + h.y.reduce((a, xv, r) => a + xv * wgv[o * 27 + r], 0));
    const got = model.predict(toNhwc(x, [2, 6, 6]), 1, kernels);
    for (let o = 0; o < 4; o++) expect(got[o]).toBeCloseTo(want[o], 5);
  });

  it('MatMul + Add is one dense layer; Identity and Dropout are dropped; Clip(0, 6) is ReLU6; global pooling is an average pool', () => {
    const b = new OnnxBuilder(['N', 1, 4, 4]);
    let t = b.node('Conv', ['x', b.init([2, 1, 1, 1], [2, -1])], { kernel_shape: [1, 1] });
    t = b.node('Clip', [t, b.init([], [0]), b.init([], [6])]);
    t = b.node('Identity', [t]);
    t = b.node('GlobalAveragePool', [t]);
    t = b.node('Reshape', [t, b.ints([-1, 2])]);
    t = b.node('Dropout', [t], {}, 2);
    t = b.node('MatMul', [t, b.init([2, 3], [1, 0, 1, 0, 1, 1])]);
    t = b.node('Add', [t, b.init([3], [0.5, 0.25, 0])]);
    const { model, provenance } = load(b.bytes(t, ['N', 3]));
    expect(layersOf(model.spec)).toEqual([
      { type: 'conv2d', filters: 2, kernel: 1, stride: 1, padding: 'valid', bias: false },
      { type: 'activation', fn: 'crelu', cap: 6 },
      { type: 'avgpool', size: 4, stride: 4 },
      { type: 'flatten' },
      { type: 'dense', units: 3 },
    ]);
    expect(provenance.transformations.join('\n')).toMatch(
      /dropped Identity[\s\S]*dropped Dropout[\s\S]*folded Add node 'add7' into the bias/,
    );
    const x = Float32Array.from({ length: 16 }, (_, i) => i / 2); // 0 .. 7.5: ReLU6 clips 2x, zeroes -1x
    const mean0 = Array.from(x, (v) => Math.min(6, 2 * v)).reduce((a, v) => a + v, 0) / 16;
    const got = model.predict(x, 1, kernels);
    expect(Array.from(got)).toEqual([expect.closeTo(mean0 + 0.5, 5), expect.closeTo(0.25, 5), expect.closeTo(mean0, 5)]);
  });

  it('a flat input fed the dataset images starts with a flatten in ONNX order', () => {
    const b = new OnnxBuilder(['N', 784]);
    const t = b.node('Gemm', ['x', b.init([10, 784]), b.init([10])], { transB: 1 });
    const { model } = load(b.bytes(t), [1, 28, 28]);
    expect(model.spec.inputShape).toEqual([28, 28, 1]);
    expect(layersOf(model.spec).map((l) => l.type)).toEqual(['flatten', 'dense']);
  });
});

describe('what the importer refuses, in one line each', () => {
  it('an unsupported operator: names it, its node and the supported list', () => {
    const b = new OnnxBuilder(['N', 4]);
    const t = b.node('Erf', ['x']);
    const msg = errorOf(() => load(b.bytes(t, ['N', 4])));
    expect(msg).toMatch(/unsupported ONNX operator 'Erf' \(node 'erf0'\)/);
    for (const op of SUPPORTED_OPS) expect(msg).toContain(op);
  });

  it('opsets outside 11..21', () => {
    const b = new OnnxBuilder(['N', 4], 9);
    expect(errorOf(() => load(b.bytes(b.node('Relu', ['x']), ['N', 4])))).toMatch(/opset 9: xbar imports opsets 11 to 21/);
  });

  it('a truncated file, and files that are not ONNX', () => {
    const b = new OnnxBuilder(['N', 1, 6, 6]);
    const good = b.bytes(b.node('Flatten', [b.node('Conv', ['x', b.init([2, 1, 3, 3])], { kernel_shape: [3, 3] })]), ['N', 32]);
    expect(() => load(good)).not.toThrow();
    for (const cut of [good.length - 5, Math.floor(good.length / 2), 3])
      expect(errorOf(() => load(good.subarray(0, cut)))).toMatch(/test\.onnx is not (a readable )?(an )?ONNX model/);
    expect(errorOf(() => load(new TextEncoder().encode('{"format": "xbar-model"}\n')))).toMatch(/not (a readable )?(an )?ONNX model/);
    expect(errorOf(() => load(new Uint8Array(0)))).toMatch(/not an ONNX model/);
  });

  it('tensors in an external data file', () => {
    const b = new OnnxBuilder(['N', 4]);
    const w = b.init([4, 2]);
    const t = init(b, w);
    t.rawData = undefined;
    t.dataLocation = 1;
    t.externalData = [{ key: 'location', value: 'weights.bin' }];
    expect(errorOf(() => load(b.bytes(b.node('MatMul', ['x', w]), ['N', 2])))).toMatch(/tensor 'w0' keeps its data in an external file/);
  });

  it('dynamic input dimensions the dataset does not fix, and inputs that do not match the dataset', () => {
    const b = new OnnxBuilder(['N', 1, 'H', 'W']);
    const bytes = b.bytes(b.node('Flatten', [b.node('Relu', ['x'])]), ['N', 'F']);
    expect(errorOf(() => load(bytes))).toMatch(/input 'x' has dynamic dimensions \[N, 1, H, W\]: pass --dataset or --data-dir/);
    expect(errorOf(() => load(bytes, [3, 28, 28]))).toMatch(/input 'x' is \[N, 1, H, W\] but the dataset's images are \[3,28,28\]/);
    expect(() => load(bytes, [1, 28, 28])).not.toThrow();
  });

  it('a residual Add makes a graph network', () => {
    const b = new OnnxBuilder(['N', 4]);
    const a = b.node('Relu', ['x']);
    const { model } = load(b.bytes(b.node('Add', [a, 'x']), ['N', 4]));
    expect('nodes' in model.spec && model.spec.nodes.map((n) => [n.type, n.inputs])).toEqual([
      ['flatten', ['input']],
      ['activation', ['input_flatten']],
      ['add', ['relu0', 'input_flatten']],
    ]);
    expect(Array.from(model.predict(Float32Array.of(-1, 2, -3, 4), 1, kernels))).toEqual([-1, 4, -3, 8]);
  });

  it('grouped convolutions and a Softmax inside the network; a batch norm that follows no Conv/Gemm stays a node', () => {
    const g = new OnnxBuilder(['N', 2, 4, 4]);
    expect(errorOf(() => load(g.bytes(g.node('Conv', ['x', g.init([2, 1, 1, 1])], { group: 2 }))))).toMatch(/group 2/);
    const bn = new OnnxBuilder(['N', 2, 4, 4]);
    const ps = [1, 2, 3, 4].map(() => bn.init([2], [1, 1]));
    const kept = load(bn.bytes(bn.node('Flatten', [bn.node('BatchNormalization', [bn.node('Relu', ['x']), ...ps])]), ['N', 32]));
    expect(layersOf(kept.model.spec).map((l) => l.type)).toEqual(['activation', 'batchnorm', 'flatten']);
    const sm = new OnnxBuilder(['N', 4]);
    expect(errorOf(() => load(sm.bytes(sm.node('Relu', [sm.node('Softmax', ['x'])]), ['N', 4])))).toMatch(
      /Softmax node 'softmax0' is not at the output/,
    );
  });
});
