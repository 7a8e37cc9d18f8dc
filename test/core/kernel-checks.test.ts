import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Kernels, WindowGeometry } from '../../src/core/kernels.js';
import { loadKernels, nativeUnavailableReason } from '../../src/core/kernels-node.js';
import { Rng } from '../../src/core/rng.js';

/**
 * The JS kernels refuse bad arguments exactly as the native addon does (error class and message),
 * instead of reading `undefined` past a short buffer and writing NaN. Checked on generated
 * mutations of valid calls; against the addon when it is built, else against the expected class.
 */
const js = loadKernels({ prefer: 'js' });
const reason = nativeUnavailableReason();
const native = reason ? null : loadKernels({ prefer: 'native', threads: 1 });

type Outcome = { ok: true; out: unknown } | { ok: false; cls: string; message: string };
function run(f: () => unknown): Outcome {
  try {
    return { ok: true, out: f() };
  } catch (e) {
    return { ok: false, cls: (e as Error).constructor.name, message: (e as Error).message };
  }
}

/** Runs a call on both kernels (fresh copies of mutable buffers each) and compares what happens. */
function same(call: (k: Kernels) => unknown, expectThrow: boolean): void {
  const a = run(() => call(js));
  if (expectThrow) {
    expect(a.ok, JSON.stringify(a)).toBe(false);
    if (!a.ok) expect(['TypeError', 'RangeError']).toContain(a.cls);
  }
  if (native) {
    const b = run(() => call(native));
    if (a.ok || b.ok) expect(a.ok).toBe(b.ok);
    else expect({ cls: a.cls, message: a.message }).toEqual({ cls: b.cls, message: b.message });
  }
}

const loose = (f: unknown) => f as (...args: unknown[]) => void;
const badValue = fc.constantFrom<unknown>(null, undefined, '3', Number.NaN, -1, 2.5, Number.POSITIVE_INFINITY, [1, 2]);

describe('JS kernels validate arguments as the native ones do', () => {
  it('sgemm: short buffers, bad strides, types and shared memory (property)', () => {
    const valid = fc.record({
      ta: fc.boolean(),
      tb: fc.boolean(),
      m: fc.integer({ min: 1, max: 5 }),
      n: fc.integer({ min: 1, max: 5 }),
      k: fc.integer({ min: 1, max: 5 }),
    });
    const mutation = fc.oneof(
      fc.record({ what: fc.constantFrom('shortA', 'shortB', 'shortC'), by: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ what: fc.constantFrom('ldaSmall', 'ldcSmall', 'overlap', 'f64', 'plainArray') }),
      fc.record({ what: fc.constant('arg'), index: fc.integer({ min: 0, max: 12 }), value: badValue }),
    );
    fc.assert(
      fc.property(valid, mutation, ({ ta, tb, m, n, k }, mu) => {
        const call = (K: Kernels) => {
          let lda = ta ? m : k;
          const ldb = tb ? k : n;
          let ldc = n;
          let a: unknown = new Float32Array(m * k);
          let b: unknown = new Float32Array(k * n);
          let c: unknown = new Float32Array(m * n);
          if (mu.what === 'shortA') a = (a as Float32Array).subarray(Math.min(mu.by, m * k));
          if (mu.what === 'shortB') b = (b as Float32Array).subarray(Math.min(mu.by, k * n));
          if (mu.what === 'shortC') c = (c as Float32Array).subarray(Math.min(mu.by, m * n));
          if (mu.what === 'ldaSmall') lda -= 1;
          if (mu.what === 'ldcSmall') ldc -= 1;
          if (mu.what === 'overlap') c = new Float32Array((a as Float32Array).buffer, 0, Math.min(m * n, m * k));
          if (mu.what === 'f64') b = new Float64Array(k * n);
          if (mu.what === 'plainArray') a = Array.from({ length: m * k }, () => 0);
          const args: unknown[] = [ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, ldc];
          if (mu.what === 'arg' && 'index' in mu) args[mu.index] = mu.value;
          loose(K.sgemm)(...args);
          return Array.from(c as Float32Array);
        };
        // Every mutation but a few harmless ones (any number as alpha or beta, overlap of an empty range) must throw.
        const harmless =
          (mu.what === 'arg' && 'index' in mu && (mu.index === 5 || mu.index === 10) && typeof mu.value === 'number') ||
          (mu.what === 'overlap' && m * n === 0);
        same(call, !harmless);
      }),
      { numRuns: 300 },
    );
  });

  it('im2col, col2im and maxPool: geometry that does not fit and short buffers (property)', () => {
    const geom = fc
      .record({
        batch: fc.integer({ min: 1, max: 2 }),
        h: fc.integer({ min: 2, max: 6 }),
        w: fc.integer({ min: 2, max: 6 }),
        c: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 1, max: 2 }),
        stride: fc.integer({ min: 1, max: 2 }),
      })
      .map((g) => ({ ...g, pad: 0, oh: Math.floor((g.h - g.k) / g.stride) + 1, ow: Math.floor((g.w - g.k) / g.stride) + 1 }));
    const mutation = fc.oneof(
      fc.record({ what: fc.constantFrom('shortFirst', 'shortLast'), by: fc.integer({ min: 1, max: 3 }) }),
      fc.record({ what: fc.constantFrom('ohTooBig', 'padPool', 'f64') }),
      fc.record({ what: fc.constant('field'), field: fc.constantFrom('batch', 'h', 'k', 'stride', 'oh'), value: badValue }),
    );
    fc.assert(
      fc.property(geom, mutation, fc.constantFrom('im2col', 'col2im', 'maxPool'), (g0, mu, fn) => {
        const g: WindowGeometry = { ...g0 };
        if (mu.what === 'ohTooBig') g.oh += 1;
        if (mu.what === 'padPool') g.pad = fn === 'maxPool' ? 1 : 0;
        if (mu.what === 'field' && 'field' in mu) (g as unknown as Record<string, unknown>)[mu.field] = mu.value;
        const xLen = g0.batch * g0.h * g0.w * g0.c;
        const outLen = fn === 'maxPool' ? g0.batch * g0.oh * g0.ow * g0.c : g0.batch * g0.oh * g0.ow * g0.k * g0.k * g0.c;
        const call = (K: Kernels) => {
          let first: unknown = new Float32Array(fn === 'col2im' ? outLen : xLen);
          let last: unknown = new Float32Array(fn === 'col2im' ? xLen : outLen);
          if (mu.what === 'shortFirst') first = (first as Float32Array).subarray(mu.by);
          if (mu.what === 'shortLast') last = (last as Float32Array).subarray(mu.by);
          if (mu.what === 'f64') last = new Float64Array((last as Float32Array).length);
          loose(K[fn as 'im2col'])(first, g, last);
        };
        const noop = mu.what === 'padPool' && fn !== 'maxPool';
        same(call, !noop);
      }),
      { numRuns: 300 },
    );
  });

  it('spmm, clamp and lognormalPairs: bad CSR, bounds and lengths', () => {
    const csr = (rowPtr: number[], col: number[], val: number[]) => ({
      rowPtr: Int32Array.from(rowPtr),
      col: Int32Array.from(col),
      val: Float32Array.from(val),
    });
    const b = new Float32Array(6);
    const spmm = (m: unknown, n: unknown, k: unknown, a: unknown, bb: unknown, c: unknown) => (K: Kernels) =>
      loose(K.spmm)(m, n, k, a, bb, c);
    const cases: ((K: Kernels) => unknown)[] = [
      spmm(2, 2, 3, csr([0, 1, 2], [0, 3], [1, 1]), b, new Float32Array(4)), // col index out of range
      spmm(2, 2, 3, csr([1, 1, 2], [0, 1], [1, 1]), b, new Float32Array(4)), // rowPtr[0] != 0
      spmm(2, 2, 3, csr([0, 2, 1], [0, 1], [1, 1]), b, new Float32Array(4)), // decreasing rowPtr
      spmm(2, 2, 3, csr([0, 1, 2], [0, 1], [1, 1]), b.subarray(1), new Float32Array(4)), // short b
      spmm(2, 2, 3, csr([0, 1, 2], [0, 1], [1, 1]), b, new Float32Array(3)), // short c
      spmm(2, 2, 3, csr([0, 1, 2], [0], [1]), b, new Float32Array(4)), // short col
      spmm(2, 2, 3, { rowPtr: [0, 1, 2], col: Int32Array.from([0, 1]), val: new Float32Array(2) }, b, new Float32Array(4)),
      spmm(2, 2, 3, csr([0, 1, 2], [0, 1], [1, 1]), b, b.subarray(0, 4)), // c shares b's memory
      spmm(-1, 2, 3, csr([0], [], []), b, new Float32Array(4)),
      (K) => loose(K.clamp)(new Float32Array(3), 1, 0),
      (K) => loose(K.clamp)(new Float32Array(3), '0', 1),
      (K) => loose(K.clamp)([1, 2], 0, 1),
      (K) => loose(K.clamp)(new Float32Array(3), Number.NaN, 1),
      (K) => loose(K.lognormalPairs)(new Float64Array(3), new Float64Array(2), 0.1, new Rng(1), new Float64Array(3), new Float64Array(3)),
      (K) => loose(K.lognormalPairs)(new Float64Array(3), new Float64Array(3), -1, new Rng(1), new Float64Array(3), new Float64Array(3)),
      (K) => loose(K.lognormalPairs)(new Float32Array(3), new Float64Array(3), 0.1, new Rng(1), new Float64Array(3), new Float64Array(3)),
    ];
    for (const c of cases) same(c, true);
    // A call that writes part of C before failing would leave it half-done: the JS kernel checks first.
    const c = new Float32Array(4);
    expect(() => js.spmm(2, 2, 3, csr([0, 1, 2], [0, 3], [1, 1]), Float32Array.from([1, 1, 1, 1, 1, 1]), c)).toThrow(RangeError);
    expect(Array.from(c)).toEqual([0, 0, 0, 0]);
  });
});
