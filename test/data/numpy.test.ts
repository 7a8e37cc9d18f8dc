import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { strToU8, zipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { loadDataset } from '../../src/data/node.js';
import { parseNpy, writeNpy } from '../../src/data/npy.js';

const work = mkdtempSync(join(tmpdir(), 'xbar-numpy-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(XbarError);
    return (e as Error).message;
  }
  throw new Error('expected an XbarError');
};

/** n images [c, h, w] whose pixel (s, ch, y, x) encodes its coordinates, as uint8. */
function images(n: number, c: number, h: number, w: number, layout: 'nchw' | 'nhwc'): { shape: number[]; data: Uint8Array } {
  const data = new Uint8Array(n * c * h * w);
  for (let s = 0; s < n; s++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const i = layout === 'nchw' ? ((s * c + ch) * h + y) * w + x : ((s * h + y) * w + x) * c + ch;
          data[i] = (s * 31 + ch * 7 + y * 3 + x) % 256;
        }
  return { shape: layout === 'nchw' ? [n, c, h, w] : [n, h, w, c], data };
}

function writeDir(name: string, files: Record<string, Uint8Array>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, b] of Object.entries(files)) writeFileSync(join(dir, f), b);
  return dir;
}

describe('.npy files', () => {
  it('parse what writeNpy writes (property: shapes and values come back)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.boolean(), (shape, f32) => {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = f32 ? Float32Array.from({ length: n }, (_, i) => i / 3) : Uint8Array.from({ length: n }, (_, i) => i % 256);
        const back = parseNpy(writeNpy(shape, data), 'x.npy');
        expect(back.shape).toEqual(shape);
        expect(back.dtype).toBe(f32 ? 'float32' : 'uint8');
        expect(Array.from(back.data as Float32Array)).toEqual(Array.from(data));
      }),
    );
  });

  it('refuse what is not .npy, a truncated file, Fortran order and unsupported dtypes', () => {
    const good = writeNpy([2, 3], new Float32Array(6));
    expect(errorOf(() => parseNpy(new TextEncoder().encode('hello world'), 'a.npy'))).toMatch(/a\.npy is not a NumPy \.npy file/);
    expect(errorOf(() => parseNpy(good.subarray(0, good.length - 4), 'a.npy'))).toMatch(/truncated/);
    const fortran = new TextDecoder('latin1').decode(good).replace("'fortran_order': False", "'fortran_order': True ");
    expect(
      errorOf(() =>
        parseNpy(
          Uint8Array.from(fortran, (ch) => ch.charCodeAt(0)),
          'a.npy',
        ),
      ),
    ).toMatch(/Fortran order/);
    const complex = new TextDecoder('latin1').decode(good).replace("'<f4'", "'<c8'");
    expect(
      errorOf(() =>
        parseNpy(
          Uint8Array.from(complex, (ch) => ch.charCodeAt(0)),
          'a.npy',
        ),
      ),
    ).toMatch(/dtype '<c8' is not supported/);
  });
});

describe('--data-dir with NumPy arrays', () => {
  const labels = (n: number) =>
    writeNpy(
      [n],
      Uint8Array.from({ length: n }, (_, i) => i % 3),
    );

  it('NCHW and NHWC uint8 images give the same NHWC dataset, pixels v / 255, labels as given', () => {
    const sets = (['nchw', 'nhwc'] as const).map((layout) => {
      const tr = images(5, 3, 6, 6, layout);
      const te = images(4, 3, 6, 6, layout);
      const dir = writeDir(layout, {
        'x_train.npy': writeNpy(tr.shape, tr.data),
        'y_train.npy': labels(5),
        'x_test.npy': writeNpy(te.shape, te.data),
        'y_test.npy': labels(4),
      });
      return loadDataset('mine', { dataDir: dir });
    });
    const [a, b] = sets;
    expect(a.inputShape).toEqual([3, 6, 6]);
    expect(a.numClasses).toBe(3);
    expect(Array.from(a.train.x)).toEqual(Array.from(b.train.x));
    const nhwc = images(5, 3, 6, 6, 'nhwc').data;
    expect(Array.from(a.train.x.subarray(0, 20))).toEqual(Array.from(nhwc.subarray(0, 20), (v) => Math.fround(v / 255)));
    expect(Array.from(a.test.y)).toEqual([0, 1, 2, 0]);
  });

  it('one .npz with float32 [n, h, w] images (kept as they are) and int64 labels; --limit-test applies', () => {
    const x = Float32Array.from({ length: 4 * 8 * 8 }, (_, i) => i / 100);
    const y64 = new BigInt64Array([1n, 0n, 1n, 1n]);
    const yNpy = writeNpy([4], new Uint8Array(4));
    // int64 labels: rewrite the descriptor and the payload of a uint8 file.
    const head = new TextDecoder('latin1').decode(yNpy.subarray(0, yNpy.length - 4)).replace("'|u1'", "'<i8'");
    const y = new Uint8Array(head.length + 32);
    y.set(Uint8Array.from(head, (ch) => ch.charCodeAt(0)));
    y.set(new Uint8Array(y64.buffer), head.length);
    const npz = zipSync({ 'x_train.npy': writeNpy([4, 8, 8], x), 'y_train.npy': y, 'x_test.npy': writeNpy([4, 8, 8], x), 'y_test.npy': y });
    const dir = writeDir('npz', { 'data.npz': npz });
    const ds = loadDataset('mine', { dataDir: dir, limitTest: 2 });
    expect(ds.inputShape).toEqual([1, 8, 8]);
    expect(ds.test.n).toBe(2);
    expect(Array.from(ds.train.y)).toEqual([1, 0, 1, 1]);
    expect(ds.train.x[5]).toBe(Math.fround(0.05));
  });

  it('one line naming the expected files and shapes when they do not fit', () => {
    const expected =
      /expected x_train\.npy and x_test\.npy images \[n, H, W\], \[n, C, H, W\] or \[n, H, W, C\] as uint8 \(0\.\.255\) or float32, y_train\.npy and y_test\.npy integer labels \[n\]/;
    const x = writeNpy([3, 6, 6], new Uint8Array(108));
    const missing = writeDir('missing', { 'x_train.npy': x, 'y_train.npy': labels(3) });
    expect(errorOf(() => loadDataset('mine', { dataDir: missing }))).toMatch(
      /has x_train\.npy, y_train\.npy but not x_test\.npy, y_test\.npy/,
    );
    expect(errorOf(() => loadDataset('mine', { dataDir: missing }))).toMatch(expected);
    const wrongCount = writeDir('count', { 'x_train.npy': x, 'y_train.npy': labels(2), 'x_test.npy': x, 'y_test.npy': labels(3) });
    expect(errorOf(() => loadDataset('mine', { dataDir: wrongCount }))).toMatch(/3 images but labels of shape \(2\)/);
    const ambiguous = writeNpy([2, 3, 3, 3], new Uint8Array(54));
    const amb = writeDir('ambiguous', {
      'x_train.npy': ambiguous,
      'y_train.npy': labels(2),
      'x_test.npy': ambiguous,
      'y_test.npy': labels(2),
    });
    expect(errorOf(() => loadDataset('mine', { dataDir: amb }))).toMatch(/cannot tell the channel axis of shape \(2,3,3,3\)/);
    const badZip = writeDir('badzip', { 'data.npz': strToU8('not a zip') });
    expect(errorOf(() => loadDataset('mine', { dataDir: badZip }))).toMatch(/data\.npz is not a readable \.npz archive/);
    const partial = writeDir('partialzip', { 'data.npz': zipSync({ 'x_train.npy': x }) });
    expect(errorOf(() => loadDataset('mine', { dataDir: partial }))).toMatch(/lacks y_train\.npy, x_test\.npy, y_test\.npy/);
  });
});
