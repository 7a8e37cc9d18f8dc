import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { areaDownsample, downsampleDigits8, fromIdx, type Split, subset, take, trainValSplit } from '../../src/data/dataset.js';

const split = (n: number, size = 2): Split => ({
  x: Float32Array.from({ length: n * size }, (_, i) => i),
  y: Uint8Array.from({ length: n }, (_, i) => i % 10),
  n,
});

describe('fromIdx', () => {
  it('scales pixels to [0, 1] and keeps labels', () => {
    const s = fromIdx({ dims: [2, 1, 2], data: Uint8Array.from([0, 255, 51, 102]) }, { dims: [2], data: Uint8Array.from([3, 7]) }, 'f');
    expect(s.n).toBe(2);
    expect(Array.from(s.x)).toEqual(Array.from(Float32Array.from([0, 1, 0.2, 0.4])));
    expect(Array.from(s.y)).toEqual([3, 7]);
  });

  it('rejects mismatched counts, wrong dims, non-byte pixels and bad labels', () => {
    const img = { dims: [3, 1, 1], data: new Uint8Array(3) };
    expect(() => fromIdx(img, { dims: [2], data: new Uint8Array(2) }, 'imgs+lbls')).toThrow(/imgs\+lbls: 3 images but 2 labels/);
    expect(() => fromIdx({ dims: [3, 1], data: new Uint8Array(3) }, { dims: [3], data: new Uint8Array(3) }, 'f')).toThrow(
      /expected \[count, height, width\]/,
    );
    expect(() => fromIdx(img, { dims: [3, 1], data: new Uint8Array(3) }, 'f')).toThrow(/expected \[count\]/);
    expect(() => fromIdx({ dims: [3, 1, 1], data: new Float32Array(3) }, { dims: [3], data: new Uint8Array(3) }, 'f')).toThrow(
      /expected unsigned bytes/,
    );
    expect(() => fromIdx(img, { dims: [3], data: Int32Array.from([0, 256, 1]) }, 'f')).toThrow(/label 1 is 256/);
    expect(() => fromIdx(img, { dims: [3], data: Int8Array.from([0, -1, 1]) }, 'f')).toThrow(XbarError);
  });
});

describe('subset and take', () => {
  it('copies the chosen samples in order', () => {
    const s = subset(split(5), [4, 0, 4]);
    expect(s.n).toBe(3);
    expect(Array.from(s.x)).toEqual([8, 9, 0, 1, 8, 9]);
    expect(Array.from(s.y)).toEqual([4, 0, 4]);
    expect(() => subset(split(5), [5])).toThrow(XbarError);
  });

  it('take clamps to the split size and validates n', () => {
    expect(take(split(5), 2).x.length).toBe(4);
    expect(take(split(5), 99).n).toBe(5);
    expect(() => take(split(5), -1)).toThrow(XbarError);
    expect(() => take(split(5), 1.5)).toThrow(XbarError);
  });
});

describe('trainValSplit', () => {
  const ids = (s: Split) => Array.from({ length: s.n }, (_, i) => s.x[i * 2] / 2);

  it('is deterministic, disjoint and covering; seeds differ', () => {
    const s = split(100);
    const a = trainValSplit(s, 0.2, 7);
    const b = trainValSplit(s, 0.2, 7);
    expect(a).toEqual(b);
    expect(a.val.n).toBe(20);
    expect(a.train.n).toBe(80);
    const all = [...ids(a.train), ...ids(a.val)].sort((p, q) => p - q);
    expect(all).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const trainIds = new Set(ids(a.train));
    expect(ids(a.val).some((i) => trainIds.has(i))).toBe(false);
    expect(Array.from(a.val.y)).toEqual(ids(a.val).map((id) => id % 10)); // labels travel with their images
    expect(ids(trainValSplit(s, 0.2, 8).val)).not.toEqual(ids(a.val));
  });

  it('validates the fraction', () => {
    expect(trainValSplit(split(10), 0, 1).val.n).toBe(0);
    for (const f of [-0.1, 1, Number.NaN]) expect(() => trainValSplit(split(10), f, 1)).toThrow(/validation fraction/);
  });
});

describe('downsampling', () => {
  const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;

  it('preserves the mean (total mass scaled by area) for any image and size', () => {
    const sizes = fc.tuple(
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 12 }),
    );
    const cases = sizes.chain(([h, w, oh, ow]) =>
      fc.tuple(fc.constant([h, w, oh, ow]), fc.float32Array({ min: 0, max: 1, noNaN: true, minLength: h * w, maxLength: h * w })),
    );
    fc.assert(
      fc.property(cases, ([[h, w, oh, ow], img]) => {
        const out = areaDownsample(img, 1, h, w, oh, ow);
        expect(out.length).toBe(oh * ow);
        expect(mean(out)).toBeCloseTo(mean(img), 5);
      }),
    );
  });

  it('28x28 -> 8x8 means each 3.5x3.5 box exactly', () => {
    const img = new Float32Array(28 * 28);
    img[0] = 1; // only in box (0, 0), full weight
    img[3 * 28 + 3] = 1; // overlaps box (0, 0) by 0.5 x 0.5 and its three neighbours likewise
    const out = areaDownsample(img, 1, 28, 28, 8, 8);
    expect(out[0]).toBeCloseTo((1 + 0.25) / 12.25, 6);
    expect(out[1]).toBeCloseTo(0.25 / 12.25, 6);
    expect(out[8]).toBeCloseTo(0.25 / 12.25, 6);
    expect(out[9]).toBeCloseTo(0.25 / 12.25, 6);
    expect(
      areaDownsample(
        Float32Array.from({ length: 2 * 784 }, () => 0.5),
        2,
        28,
        28,
        8,
        8,
      ).every((v) => Math.abs(v - 0.5) < 1e-6),
    ).toBe(true);
  });

  it('downsampleDigits8 quantises to 17 levels', () => {
    const s: Split = { x: Float32Array.from({ length: 3 * 784 }, (_, i) => (i % 97) / 96), y: Uint8Array.from([1, 2, 3]), n: 3 };
    const d = downsampleDigits8(s, 28, 28);
    expect(d.n).toBe(3);
    expect(d.x.length).toBe(3 * 64);
    expect(Array.from(d.y)).toEqual([1, 2, 3]);
    const raw = areaDownsample(s.x, 3, 28, 28, 8, 8);
    d.x.forEach((v, i) => {
      expect(Number.isInteger(v * 16)).toBe(true);
      expect(Math.abs(v - raw[i])).toBeLessThanOrEqual(1 / 32 + 1e-6);
    });
    expect(() => downsampleDigits8(s, 28, 27)).toThrow(/is not 3 images of 1 x 28 x 27/);
  });
});
