import type { AdamHyper, Csr, WindowGeometry } from './kernels.js';

/**
 * The argument checks of the native kernels (native/xbar_blas.c), for the JS kernels: the same
 * conditions, in the same order, with the same error class (TypeError for a wrong type,
 * RangeError for a wrong value) and message, so that a caller sees one behaviour whichever
 * kernels run. Without them a short buffer reads `undefined` and writes NaN silently.
 * test/core/kernels.test.ts compares both on generated bad arguments.
 */

const INT_MAX = 2147483647;

function int(v: unknown, name: string, min: number): number {
  if (typeof v !== 'number' || v !== Math.floor(v) || v < min || v > INT_MAX)
    throw new RangeError(`${name} must be an integer in [${min}, ${INT_MAX}]`);
  return v;
}

function typed<T>(v: unknown, ctor: { new (...a: never[]): T; name: string }, fn: string, name: string, noun: string): T {
  if (!(v instanceof ctor)) throw new TypeError(`${fn}: ${name} must be ${noun}`);
  return v;
}

const f32 = (v: unknown, fn: string, name: string) => typed(v, Float32Array, fn, name, 'a Float32Array');

function f32Len(v: unknown, fn: string, name: string, need: number): Float32Array {
  const a = f32(v, fn, name);
  if (a.length < need) throw new RangeError(`${fn}: ${name} has ${a.length} elements but the dimensions need ${need}`);
  return a;
}

/** Whether two views share bytes (the native check compares their element ranges in memory). */
function overlaps(x: ArrayBufferView, nx: number, y: ArrayBufferView, ny: number, bytes: number): boolean {
  if (nx <= 0 || ny <= 0 || x.buffer !== y.buffer) return false;
  const x0 = x.byteOffset;
  const y0 = y.byteOffset;
  return x0 < y0 + ny * bytes && y0 < x0 + nx * bytes;
}

function matrix(v: unknown, name: string, rows: number, cols: number, ld: number): number {
  const a = f32(v, 'sgemm', name);
  if (ld < Math.max(cols, 1)) throw new RangeError(`sgemm: ld${name} = ${ld} is less than the row length ${cols}`);
  const need = rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
  if (a.length < need) throw new RangeError(`sgemm: ${name} has ${a.length} elements but the dimensions and stride need ${need}`);
  return need;
}

export function checkSgemm(
  transA: unknown,
  transB: unknown,
  m: unknown,
  n: unknown,
  k: unknown,
  alpha: unknown,
  a: unknown,
  lda: unknown,
  b: unknown,
  ldb: unknown,
  beta: unknown,
  c: unknown,
  ldc: unknown,
): void {
  if (typeof transA !== 'boolean') throw new TypeError('sgemm: transA must be a boolean');
  if (typeof transB !== 'boolean') throw new TypeError('sgemm: transB must be a boolean');
  const M = int(m, 'm', 0);
  const N = int(n, 'n', 0);
  const K = int(k, 'k', 0);
  if (typeof alpha !== 'number') throw new TypeError('sgemm: alpha must be a number');
  const LDA = int(lda, 'lda', 1);
  const LDB = int(ldb, 'ldb', 1);
  if (typeof beta !== 'number') throw new TypeError('sgemm: beta must be a number');
  const LDC = int(ldc, 'ldc', 1);
  const na = matrix(a, 'a', transA ? K : M, transA ? M : K, LDA);
  const nb = matrix(b, 'b', transB ? N : K, transB ? K : N, LDB);
  const nc = matrix(c, 'c', M, N, LDC);
  const [A, B, C] = [a, b, c] as Float32Array[];
  if (overlaps(C, nc, A, na, 4) || overlaps(C, nc, B, nb, 4)) throw new RangeError('sgemm: c must not share memory with a or b');
}

const GEOMETRY = ['batch', 'h', 'w', 'c', 'k', 'stride', 'pad', 'oh', 'ow'] as const;

function geometry(g: WindowGeometry, fn: string): void {
  GEOMETRY.forEach((name, i) => {
    int(g[name], name, i === 0 || i === 6 ? 0 : 1);
  });
  const lastY = (g.oh - 1) * g.stride + g.k;
  const lastX = (g.ow - 1) * g.stride + g.k;
  if (lastY > g.h + 2 * g.pad || lastX > g.w + 2 * g.pad)
    throw new RangeError(
      `${fn}: a ${g.oh}x${g.ow} output with window ${g.k}, stride ${g.stride} does not fit a ${g.h}x${g.w} input padded by ${g.pad}`,
    );
}

/** im2col(x, g, cols) and col2im(cols, g, x): the image and the rows of windows. */
export function checkWindows(fn: 'im2col' | 'col2im', first: unknown, g: WindowGeometry, last: unknown): void {
  geometry(g, fn);
  const xLen = g.batch * g.h * g.w * g.c;
  const colsLen = g.batch * g.oh * g.ow * g.k * g.k * g.c;
  const adjoint = fn === 'col2im';
  f32Len(first, fn, adjoint ? 'cols' : 'x', adjoint ? colsLen : xLen);
  f32Len(last, fn, adjoint ? 'x' : 'cols', adjoint ? xLen : colsLen);
}

/** convInputGrad's arguments; returns the filter count. */
export function checkConvInputGrad(dy: unknown, g: WindowGeometry, w: unknown, dx: unknown): number {
  geometry(g, 'convInputGrad');
  const rowLen = g.k * g.k * g.c;
  const wa = f32(w, 'convInputGrad', 'weights');
  const f = wa.length / rowLen;
  if (!(Number.isInteger(f) && f >= 1))
    throw new RangeError('convInputGrad: weights must hold k*k*c rows of one value per filter (at least one)');
  const nDy = g.batch * g.oh * g.ow * f;
  const nDx = g.batch * g.h * g.w * g.c;
  const d = f32Len(dy, 'convInputGrad', 'dy', nDy);
  const x = f32Len(dx, 'convInputGrad', 'dx', nDx);
  if (overlaps(x, nDx, d, nDy, 4) || overlaps(x, nDx, wa, wa.length, 4))
    throw new RangeError('convInputGrad: dx must not share memory with dy or weights');
  return f;
}

export function checkMaxPool(x: unknown, g: WindowGeometry, y: unknown, argmax?: unknown): void {
  geometry(g, 'maxPool');
  if (g.pad !== 0) throw new RangeError('maxPool: pooling windows have no padding');
  f32Len(x, 'maxPool', 'x', g.batch * g.h * g.w * g.c);
  f32Len(y, 'maxPool', 'y', g.batch * g.oh * g.ow * g.c);
  if (argmax !== undefined) i32Len(argmax, 'argmax', g.batch * g.oh * g.ow * g.c, 'maxPool');
}

export function checkClamp(y: unknown, lo: unknown, hi: unknown): void {
  f32(y, 'clamp', 'y');
  if (typeof lo !== 'number' || typeof hi !== 'number' || Number.isNaN(lo) || Number.isNaN(hi) || lo > hi)
    throw new RangeError('clamp: lo and hi must be numbers with lo <= hi');
}

function i32Len(v: unknown, name: string, need: number, fn = 'spmm'): Int32Array {
  const a = typed(v, Int32Array, fn, name, 'an Int32Array');
  if (a.length < need) throw new RangeError(`${fn}: ${name} has ${a.length} elements but needs ${need}`);
  return a;
}

/** Every index is checked before any output is written, as the native kernel does. */
export function checkSpmm(m: unknown, n: unknown, k: unknown, a: Csr, b: unknown, c: unknown): void {
  const M = int(m, 'm', 0);
  const N = int(n, 'n', 0);
  const K = int(k, 'k', 0);
  const rowPtr = i32Len(a.rowPtr, 'rowPtr', M + 1);
  if (rowPtr[0] !== 0) throw new RangeError('spmm: rowPtr[0] must be 0');
  for (let i = 0; i < M; i++) if (rowPtr[i + 1] < rowPtr[i]) throw new RangeError('spmm: rowPtr must not decrease');
  const nnz = rowPtr[M];
  const col = i32Len(a.col, 'col', nnz);
  const val = f32Len(a.val, 'spmm', 'val', nnz);
  const B = f32Len(b, 'spmm', 'b', K * N);
  const C = f32Len(c, 'spmm', 'c', M * N);
  if (overlaps(C, M * N, B, K * N, 4) || overlaps(C, M * N, val, nnz, 4))
    throw new RangeError('spmm: c must not share memory with b or val');
  for (let p = 0; p < nnz; p++) if (col[p] < 0 || col[p] >= K) throw new RangeError(`spmm: col index ${col[p]} is outside [0, ${K})`);
}

export function checkLognormalPairs(tPos: unknown, tNeg: unknown, sigma: unknown, gPos: unknown, gNeg: unknown): void {
  let n = -1;
  for (const [name, v] of [
    ['tPos', tPos],
    ['tNeg', tNeg],
    ['gPos', gPos],
    ['gNeg', gNeg],
  ] as const) {
    const a = typed(v, Float64Array, 'lognormalPairs', name, 'a Float64Array');
    if (n < 0) n = a.length;
    else if (a.length !== n) throw new RangeError('lognormalPairs: tPos, tNeg, gPos and gNeg must have one length');
  }
  if (typeof sigma !== 'number' || !(sigma >= 0 && sigma < Number.POSITIVE_INFINITY))
    throw new RangeError('lognormalPairs: sigma must be a finite number >= 0');
}

export function checkNormalPairs(zPos: unknown, zNeg: unknown): void {
  const a = typed(zPos, Float64Array, 'normalPairs', 'zPos', 'a Float64Array');
  const b = typed(zNeg, Float64Array, 'normalPairs', 'zNeg', 'a Float64Array');
  if (a.length !== b.length) throw new RangeError('normalPairs: zPos and zNeg must have one length');
}

export function checkAdamStep(w: unknown, g: unknown, m: unknown, v: unknown, h: AdamHyper): void {
  const arrays = [w, g, m, v].map((a, i) => typed(a, Float32Array, 'adamStep', ['w', 'g', 'm', 'v'][i], 'a Float32Array'));
  if (arrays.some((a) => a.length !== arrays[0].length)) throw new RangeError('adamStep: w, g, m and v must have one length');
  for (const k of ['beta1', 'beta2', 'c1', 'c2', 'lr', 'eps', 'decay'] as const)
    if (typeof h?.[k] !== 'number' || !Number.isFinite(h[k])) throw new RangeError(`adamStep: ${k} must be a finite number`);
}

export function checkExpScaled(x: unknown, c: unknown, out: unknown): void {
  const a = typed(x, Float32Array, 'expScaled', 'x', 'a Float32Array');
  const b = typed(out, Float64Array, 'expScaled', 'out', 'a Float64Array');
  if (typeof c !== 'number' || !Number.isFinite(c)) throw new RangeError('expScaled: c must be a finite number');
  if (a.length !== b.length) throw new RangeError('expScaled: x and out must have one length');
}

// ---- The per-channel passes of training (native/channels.c). ----

export function checkColumnSums(x: unknown, rows: unknown, out: unknown): void {
  const a = f32(x, 'columnSums', 'x');
  const r = int(rows, 'rows', 0);
  const o = f32(out, 'columnSums', 'out');
  if (a.length < r * o.length) throw new RangeError('columnSums: x has fewer than rows * out.length elements');
  if (overlaps(o, o.length, a, r * o.length, 4)) throw new RangeError('columnSums: out must not share memory with x');
}

export function checkChannelMeans(x: unknown, pixels: unknown, c: unknown, y: unknown): void {
  const a = f32(x, 'channelMeans', 'x');
  const p = int(pixels, 'pixels', 1);
  const ch = int(c, 'c', 1);
  const o = f32(y, 'channelMeans', 'y');
  if (o.length % ch !== 0) throw new RangeError('channelMeans: y.length must be a multiple of c');
  if (a.length !== o.length * p) throw new RangeError('channelMeans: x must hold y.length * pixels elements');
  if (overlaps(o, o.length, a, a.length, 4)) throw new RangeError('channelMeans: y must not share memory with x');
}

export function checkReluGrad(x: unknown, dy: unknown, dx: unknown): void {
  const [a, g, d] = [x, dy, dx].map((v, i) => f32(v, 'reluGrad', ['x', 'dy', 'dx'][i]));
  if (g.length !== a.length || d.length !== a.length) throw new RangeError('reluGrad: x, dy and dx must have one length');
  if (overlaps(d, d.length, a, a.length, 4) || overlaps(d, d.length, g, g.length, 4))
    throw new RangeError('reluGrad: dx must not share memory with x or dy');
}

export function checkReluInPlace(y: unknown): void {
  f32(y, 'reluInPlace', 'y');
}

/** The two-array in-place passes: `names` in call order, the array `out` written, the other only read. */
export function checkPairInPlace(fn: string, a: unknown, b: unknown, names: [string, string], out: 0 | 1): void {
  const arrays = [f32(a, fn, names[0]), f32(b, fn, names[1])];
  if (arrays[0].length !== arrays[1].length) throw new RangeError(`${fn}: ${names[0]} and ${names[1]} must have one length`);
  const n = arrays[0].length;
  if (overlaps(arrays[out], n, arrays[1 - out], n, 4))
    throw new RangeError(`${fn}: ${names[out]} must not share memory with ${names[1 - out]}`);
}

function affineShapes(fn: string, n: number, c: number, c2: number): void {
  if (c < 1 || c2 !== c) throw new RangeError(`${fn}: the per-channel arrays must have one length of at least 1`);
  if (n % c !== 0) throw new RangeError(`${fn}: the activations' length must be a multiple of the channel count`);
}

export function checkChannelAffine(x: unknown, scale: unknown, shift: unknown, y: unknown): void {
  const [a, s, t, o] = [x, scale, shift, y].map((v, i) => f32(v, 'channelAffine', ['x', 'scale', 'shift', 'y'][i]));
  if (o.length !== a.length) throw new RangeError('channelAffine: x and y must have one length');
  affineShapes('channelAffine', a.length, s.length, t.length);
  if ([a, s, t].some((v) => overlaps(o, o.length, v, v.length, 4)))
    throw new RangeError('channelAffine: y must not share memory with x, scale or shift');
}

export function checkChannelAffineGrad(x: unknown, dy: unknown, scale: unknown, gScale: unknown, gShift: unknown, dx: unknown): void {
  const names = ['x', 'dy', 'scale', 'gScale', 'gShift', 'dx'];
  const given = dx === null || dx === undefined ? [x, dy, scale, gScale, gShift] : [x, dy, scale, gScale, gShift, dx];
  const a = given.map((v, i) => f32(v, 'channelAffineGrad', names[i]));
  if (a[1].length !== a[0].length || (a.length === 6 && a[5].length !== a[0].length))
    throw new RangeError('channelAffineGrad: x, dy and dx must have one length');
  affineShapes('channelAffineGrad', a[0].length, a[2].length, a[3].length);
  affineShapes('channelAffineGrad', a[0].length, a[2].length, a[4].length);
  for (let o = 3; o < a.length; o++)
    for (let k = 0; k < a.length; k++)
      if (k !== o && overlaps(a[o], a[o].length, a[k], a[k].length, 4))
        throw new RangeError('channelAffineGrad: gScale, gShift and dx must not share memory with any other argument');
}

export function checkMaxPoolGrad(dy: unknown, argmax: unknown, g: WindowGeometry, dx: unknown): void {
  geometry(g, 'maxPoolGrad');
  if (g.pad !== 0) throw new RangeError('maxPoolGrad: pooling windows have no padding');
  const per = g.oh * g.ow * g.c;
  const img = g.h * g.w * g.c;
  const d = f32Len(dy, 'maxPoolGrad', 'dy', g.batch * per);
  const am = i32Len(argmax, 'argmax', g.batch * per, 'maxPoolGrad');
  const out = f32Len(dx, 'maxPoolGrad', 'dx', g.batch * img);
  for (let n = 0, o = 0; n < g.batch; n++)
    for (let e = o + per, lo = n * img, hi = lo + img; o < e; o++)
      if (am[o] !== -1 && (am[o] < lo || am[o] >= hi))
        throw new RangeError("maxPoolGrad: argmax holds an index outside its image's input (not from maxPool with this geometry)");
  if (overlaps(out, g.batch * img, d, g.batch * per, 4)) throw new RangeError('maxPoolGrad: dx must not share memory with dy');
}
