import { describe, expect, it } from 'vitest';
import type { Kernels } from '../../src/core/kernels.js';
import { loadKernels, nativeUnavailableReason } from '../../src/core/kernels-node.js';
import { IN_CI } from '../optional.js';
import { filled } from './filled.js';

/** Naive row-major reference in float64: C = alpha op(A) op(B) + beta C. */
function reference(...[ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc]: Parameters<Kernels['sgemm']>): Float32Array {
  const out = c.slice();
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
      out[i * ldc + j] = beta === 0 ? alpha * s : alpha * s + beta * c[i * ldc + j];
    }
  return out;
}

interface Case {
  ta: boolean;
  tb: boolean;
  m: number;
  n: number;
  k: number;
  pad?: number; // extra elements per row, so lda/ldb/ldc exceed the row length
  offset?: number; // elements before each matrix in its buffer (subarray byteOffset)
  alpha?: number;
  beta?: number;
}

/** Runs one case on `kernels` and the reference; checks the result and the untouched padding. */
function check(kernels: Kernels, { ta, tb, m, n, k, pad = 0, offset = 0, alpha = 1, beta = 0 }: Case): void {
  const [ar, ac] = ta ? [k, m] : [m, k];
  const [br, bc] = tb ? [n, k] : [k, n];
  const lda = ac + pad;
  const ldb = bc + pad;
  const ldc = n + pad;
  const view = (rows: number, ld: number, seed: number) => filled(offset + rows * ld + 3, seed).subarray(offset, offset + rows * ld);
  const a = view(ar, lda, 1);
  const b = view(br, ldb, 2);
  const c = view(m, ldc, 3);
  const expected = reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  kernels.sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  for (let i = 0; i < c.length; i++) {
    const tol = 1e-5 * (1 + k) * (1 + Math.abs(expected[i]));
    if (Math.abs(c[i] - expected[i]) > tol)
      throw new Error(`C[${i}] = ${c[i]}, expected ${expected[i]} (${JSON.stringify({ ta, tb, m, n, k, pad, offset })})`);
  }
  // Padding columns are outside the matrix: sgemm must not write them.
  for (let i = 0; i < m; i++) for (let j = n; j < ldc; j++) expect(c[i * ldc + j]).toBe(expected[i * ldc + j]);
}

const transposes = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
] as const;

const shapes: Case[] = transposes.flatMap(([ta, tb]) => [
  { ta, tb, m: 7, n: 5, k: 3 },
  { ta, tb, m: 33, n: 17, k: 65, pad: 3 },
  { ta, tb, m: 130, n: 70, k: 257, pad: 5, offset: 11 },
  { ta, tb, m: 1, n: 9, k: 4, offset: 1 },
  { ta, tb, m: 6, n: 1, k: 8, pad: 2 },
  { ta, tb, m: 5, n: 4, k: 1 },
  { ta, tb, m: 1, n: 1, k: 1 },
  { ta, tb, m: 19, n: 23, k: 29, alpha: 0.5, beta: 1, pad: 1, offset: 2 },
  { ta, tb, m: 12, n: 8, k: 10, alpha: -2, beta: 0.25 },
]);

function suite(kernels: () => Kernels): void {
  it.each(shapes)('matches the reference: %o', (c) => check(kernels(), c));

  it('accumulates into C over repeated calls with beta = 1', () => {
    const [m, n, k] = [9, 11, 13];
    const a = filled(m * k, 4);
    const b = filled(k * n, 5);
    const c = new Float32Array(m * n);
    let expected: Float32Array = c;
    for (let r = 0; r < 3; r++) {
      expected = reference(false, false, m, n, k, 1, a, k, b, n, 1, expected, n);
      kernels().sgemm(false, false, m, n, k, 1, a, k, b, n, 1, c, n);
    }
    for (let i = 0; i < c.length; i++) expect(c[i]).toBeCloseTo(expected[i], 4);
  });

  it('ignores NaN in C when beta = 0 (BLAS convention)', () => {
    const c = new Float32Array(4).fill(Number.NaN);
    kernels().sgemm(false, false, 2, 2, 2, 1, new Float32Array([1, 2, 3, 4]), 2, new Float32Array([5, 6, 7, 8]), 2, 0, c, 2);
    expect([...c]).toEqual([19, 22, 43, 50]);
  });
}

describe('js kernels', () => {
  suite(() => loadKernels({ prefer: 'js' }));
});

const reason = nativeUnavailableReason();
const skip = reason && `native addon not built (${reason}); run: node scripts/build-native.mjs`;

describe('native kernels', () => {
  const native = () => loadKernels({ prefer: 'native', threads: 2 });

  it('loads OpenBLAS', ({ skip: skipTest }) => {
    // npm ci installs OpenBLAS as root, so in CI a broken build fails here instead of skipping.
    if (skip && IN_CI) throw new Error(`CI must have the native kernels: ${skip}`);
    if (skip) skipTest(skip);
    const k = native();
    expect(k.name).toBe('native');
    expect(k.threads).toBe(2);
    expect(k.blas).toMatch(/OpenBLAS/);
  });

  if (!skip) suite(native);
  else it.skip(skip, () => {});

  it('is bit-identical across repeated calls with 2 threads', ({ skip: skipTest }) => {
    if (skip) skipTest(skip);
    const [m, n, k] = [300, 200, 500];
    const a = filled(m * k, 6);
    const b = filled(k * n, 7);
    const runs = Array.from({ length: 5 }, () => {
      const c = new Float32Array(m * n);
      native().sgemm(false, true, m, n, k, 1, a, k, b, k, 0, c, n);
      return c;
    });
    for (const c of runs.slice(1)) expect(Buffer.from(c.buffer).equals(Buffer.from(runs[0].buffer))).toBe(true);
  });

  it('honours the thread count of each instance', ({ skip: skipTest }) => {
    if (skip) skipTest(skip);
    const one = loadKernels({ prefer: 'native', threads: 1 });
    const two = native();
    expect(one.threads).toBe(1);
    check(one, { ta: false, tb: false, m: 64, n: 64, k: 64 });
    check(two, { ta: false, tb: false, m: 64, n: 64, k: 64 });
  });

  it('throws on bad arguments instead of crashing', ({ skip: skipTest }) => {
    if (skip) skipTest(skip);
    const k = native();
    const a = new Float32Array(12);
    const b = new Float32Array(12);
    const c = new Float32Array(9);
    const call = (over: Partial<Record<string, unknown>>) => () => {
      const x = { ta: false, tb: false, m: 3, n: 3, k: 4, a, lda: 4, b, ldb: 3, c, ldc: 3, ...over };
      // Deliberately unchecked argument types: the addon must validate what JS hands it.
      const sgemm = k.sgemm as unknown as (...args: unknown[]) => void;
      sgemm(x.ta, x.tb, x.m, x.n, x.k, 1, x.a, x.lda, x.b, x.ldb, 0, x.c, x.ldc);
    };
    expect(call({})).not.toThrow();
    expect(call({ a: a.subarray(1) })).toThrow(/a has 11 elements/);
    expect(call({ c: new Float32Array(1000).subarray(995) })).toThrow(/c has 5 elements/);
    expect(call({ ldb: 4 })).toThrow(/b has 12 elements/);
    expect(call({ ldc: 2 })).toThrow(/less than the row length/);
    // With transB, B is stored n x k = 3 x 4, so ldb must be >= 4.
    expect(call({ tb: true })).toThrow(/ldb = 3 is less than the row length 4/);
    expect(call({ tb: true, ldb: 4, b: b.subarray(1) })).toThrow(/b has 11 elements/);
    expect(call({ m: -1 })).toThrow(/m must be an integer/);
    expect(call({ k: 2.5 })).toThrow(/k must be an integer/);
    expect(call({ a: new Float64Array(12) })).toThrow(/Float32Array/);
    expect(call({ b: [1, 2, 3] })).toThrow(/Float32Array/);
    expect(call({ ta: 0 })).toThrow(/boolean/);
    expect(call({ c: a.subarray(0, 9) })).toThrow(/share memory/);
  });
});

describe('loadKernels options', () => {
  it('rejects a bad thread count and a bad XBAR_KERNELS', () => {
    expect(() => loadKernels({ prefer: 'native', threads: 0 })).toThrow(/threads/);
    const saved = process.env.XBAR_KERNELS;
    try {
      process.env.XBAR_KERNELS = 'gpu';
      expect(() => loadKernels()).toThrow(/XBAR_KERNELS/);
      process.env.XBAR_KERNELS = 'js';
      expect(loadKernels({ prefer: 'native' }).name).toBe('js');
    } finally {
      if (saved === undefined) delete process.env.XBAR_KERNELS;
      else process.env.XBAR_KERNELS = saved;
    }
  });
});
