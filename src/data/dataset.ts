/** In-memory datasets and the transforms on them. Pure: no Node imports, so it also runs in the browser. */
import { fail } from '../core/errors.js';
import { Rng } from '../core/rng.js';
import type { IdxArray } from './idx.js';

/**
 * n samples: x is n x H x W x C (NHWC, as the models read it; the same bytes as n x C x H x W for
 * the one-channel sets), row-major, pixels in [0, 1]; y holds the class indices.
 */
export interface Split {
  x: Float32Array;
  y: Uint8Array;
  n: number;
}

export interface Dataset {
  name: string;
  /** C, H, W */
  inputShape: [number, number, number];
  numClasses: number;
  classNames: string[];
  train: Split;
  test: Split;
}

/** Build a split from an IDX image file ([n, h, w], unsigned bytes) and its label file ([n]). */
export function fromIdx(images: IdxArray, labels: IdxArray, label: string): Split {
  if (images.dims.length !== 3) {
    fail(`${label}: images have dims [${images.dims.join(', ')}], expected [count, height, width]: pass an idx3 image file`);
  }
  if (labels.dims.length !== 1) {
    fail(`${label}: labels have dims [${labels.dims.join(', ')}], expected [count]: pass an idx1 label file`);
  }
  const n = images.dims[0];
  if (labels.dims[0] !== n) {
    fail(
      `${label}: ${n} images but ${labels.dims[0]} labels: the image and label files do not belong together; use files from the same set`,
    );
  }
  if (!(images.data instanceof Uint8Array)) {
    fail(
      `${label}: images are ${images.data.constructor.name}, expected unsigned bytes (IDX type 0x08): pass an 8-bit greyscale image file`,
    );
  }
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels.data[i];
    if (!Number.isInteger(v) || v < 0 || v > 255) {
      fail(`${label}: label ${i} is ${v}, expected an integer class index 0..255: the label file is corrupt or not a label file`);
    }
    y[i] = v;
  }
  const scale = new Float32Array(256);
  for (let v = 0; v < 256; v++) scale[v] = v / 255;
  const src = images.data;
  const x = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) x[i] = scale[src[i]];
  return { x, y, n };
}

function sampleSize(split: Split): number {
  return split.n === 0 ? 0 : split.x.length / split.n;
}

/** The samples at `indices`, in that order (copied). */
export function subset(split: Split, indices: ArrayLike<number>): Split {
  const size = sampleSize(split);
  const x = new Float32Array(indices.length * size);
  const y = new Uint8Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!Number.isInteger(i) || i < 0 || i >= split.n) fail(`subset: index ${i} out of range 0..${split.n - 1}`);
    x.set(split.x.subarray(i * size, (i + 1) * size), k * size);
    y[k] = split.y[i];
  }
  return { x, y, n: indices.length };
}

/** The first n samples (copied); all of them when the split is smaller, so a limit never fails. */
export function take(split: Split, n: number): Split {
  if (!Number.isInteger(n) || n < 0) fail(`sample limit must be a non-negative integer, got ${n}`);
  const m = Math.min(n, split.n);
  const size = sampleSize(split);
  return { x: split.x.slice(0, m * size), y: split.y.slice(0, m), n: m };
}

/** Seeded shuffle, then the first round(n * valFraction) samples become the validation set. */
export function trainValSplit(split: Split, valFraction: number, seed: number): { train: Split; val: Split } {
  if (!(valFraction >= 0 && valFraction < 1)) {
    fail(`validation fraction must be in [0, 1), got ${valFraction}: e.g. 0.1 holds out 10% of the training set`);
  }
  const perm = new Rng(seed).permutation(split.n);
  const nVal = Math.round(split.n * valFraction);
  return { train: subset(split, perm.subarray(nVal)), val: subset(split, perm.subarray(0, nVal)) };
}

/**
 * Area weights from an axis of n input pixels to m output pixels: output i covers the input
 * interval [i*n/m, (i+1)*n/m) and input pixel r contributes its overlap with that interval, divided
 * by the interval length, so every output is an exact area-weighted mean (no pixel is dropped or
 * counted twice, even when n/m is fractional, as with 28/8 = 3.5).
 */
function axisWeights(n: number, m: number): { start: Int32Array; end: Int32Array; w: Float64Array } {
  const s = n / m;
  const start = new Int32Array(m);
  const end = new Int32Array(m);
  const w = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    const lo = i * s;
    const hi = (i + 1) * s;
    start[i] = Math.floor(lo);
    end[i] = Math.min(n, Math.ceil(hi));
    for (let r = start[i]; r < end[i]; r++) w[i * n + r] = (Math.min(hi, r + 1) - Math.max(lo, r)) / s;
  }
  return { start, end, w };
}

/**
 * Area-downsample `count` single-channel h x w images to oh x ow (unquantised). The weights are
 * separable, so each image takes a row pass then a column pass over only the overlapping pixels.
 */
export function areaDownsample(x: Float32Array, count: number, h: number, w: number, oh: number, ow: number): Float32Array {
  for (const [name, v] of Object.entries({ h, w, oh, ow })) {
    if (!Number.isInteger(v) || v <= 0) fail(`areaDownsample: ${name} must be a positive integer, got ${v}`);
  }
  if (x.length !== count * h * w) {
    fail(`areaDownsample: ${x.length} values is not ${count} images of 1 x ${h} x ${w}: pass single-channel images and their true size`);
  }
  const R = axisWeights(h, oh);
  const C = axisWeights(w, ow);
  const out = new Float32Array(count * oh * ow);
  const rows = new Float64Array(oh * w);
  for (let k = 0; k < count; k++) {
    const img = k * h * w;
    rows.fill(0);
    for (let i = 0; i < oh; i++) {
      for (let r = R.start[i]; r < R.end[i]; r++) {
        const wr = R.w[i * h + r];
        for (let c = 0; c < w; c++) rows[i * w + c] += wr * x[img + r * w + c];
      }
    }
    const o = k * oh * ow;
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let acc = 0;
        for (let c = C.start[j]; c < C.end[j]; c++) acc += C.w[j * w + c] * rows[i * w + c];
        out[o + i * ow + j] = acc;
      }
    }
  }
  return out;
}

/**
 * The 8x8 "digits" variant: each h x w image (28x28 for MNIST) is area-downsampled to 8x8 (each
 * output pixel the exact area-weighted mean of its 3.5 x 3.5 input box), then quantised to 17 grey
 * levels 0..16, the resolution of the classic UCI/scikit-learn 8x8 handwritten digits (which count
 * set pixels in 4x4 blocks), and stored scaled to [0, 1] as level / 16.
 */
export function downsampleDigits8(split: Split, h: number, w: number): Split {
  const x = areaDownsample(split.x, split.n, h, w, 8, 8);
  for (let i = 0; i < x.length; i++) x[i] = Math.round(x[i] * 16) / 16;
  return { x, y: split.y.slice(), n: split.n };
}
