/** A user's dataset as NumPy arrays: four .npy files or one .npz holding them. Pure (no Node imports). */
import { unzipSync } from 'fflate';
import { fail } from '../core/errors.js';
import type { Dataset, Split } from './dataset.js';
import { type NpyArray, parseNpy } from './npy.js';

export const NUMPY_FILES = ['x_train.npy', 'y_train.npy', 'x_test.npy', 'y_test.npy'] as const;

/** What a NumPy data folder must hold, for every error about one. */
export const NUMPY_EXPECTED =
  'x_train.npy and x_test.npy images [n, H, W], [n, C, H, W] or [n, H, W, C] as uint8 (0..255) or float32, y_train.npy and y_test.npy integer labels [n] (or one .npz holding those four names)';

/** The four arrays from a .npz archive (numpy.savez or savez_compressed). */
export function unpackNpz(bytes: Uint8Array, source: string): Record<string, Uint8Array> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    fail(`${source} is not a readable .npz archive (${(e as Error).message}): save it with numpy.savez; expected ${NUMPY_EXPECTED}`);
  }
  const missing = NUMPY_FILES.filter((f) => !files[f]);
  if (missing.length)
    fail(`${source} lacks ${missing.join(', ')} (it holds ${Object.keys(files).join(', ') || 'nothing'}): expected ${NUMPY_EXPECTED}`);
  return files;
}

/**
 * Builds a dataset from the four arrays' bytes. Images are stored as xbar's models read them,
 * NHWC, scaled to [0, 1] when uint8 (v / 255) and kept as they are when float32. The channel axis
 * of a 4-D array is the one of size 1 to 4 while the other candidate is larger.
 */
export function numpyDataset(
  name: string,
  files: Record<(typeof NUMPY_FILES)[number], Uint8Array>,
  source: string,
  limits: { limitTrain?: number; limitTest?: number } = {},
): Dataset {
  const arr = (f: (typeof NUMPY_FILES)[number]) => parseNpy(files[f], `${source}/${f}`);
  const train = split(arr('x_train.npy'), arr('y_train.npy'), `${source}/x_train.npy`, limits.limitTrain);
  const test = split(arr('x_test.npy'), arr('y_test.npy'), `${source}/x_test.npy`, limits.limitTest);
  if (train.chw.join('x') !== test.chw.join('x'))
    fail(
      `${source}: training images are [${train.chw}] (C, H, W) but test images are [${test.chw}]: expected ${NUMPY_EXPECTED} of one image size`,
    );
  let maxLabel = 0;
  for (const s of [train.split, test.split]) for (const v of s.y) maxLabel = Math.max(maxLabel, v);
  const numClasses = Math.max(2, maxLabel + 1);
  return {
    name,
    inputShape: train.chw,
    numClasses,
    classNames: Array.from({ length: numClasses }, (_, i) => String(i)),
    train: train.split,
    test: test.split,
  };
}

function split(x: NpyArray, y: NpyArray, source: string, limit: number | undefined): { split: Split; chw: [number, number, number] } {
  const bad = (what: string): never => fail(`${source}: ${what}; expected ${NUMPY_EXPECTED}`);
  if (x.dtype !== 'uint8' && x.dtype !== 'float32') bad(`images are ${x.dtype}`);
  if (x.shape.length !== 3 && x.shape.length !== 4) bad(`images have shape (${x.shape})`);
  if (y.shape.length !== 1 || y.shape[0] !== x.shape[0]) bad(`${x.shape[0]} images but labels of shape (${y.shape})`);
  if (y.dtype === 'float32' || y.dtype === 'float64') bad(`labels are ${y.dtype}`);
  let [n, h, w, c] = x.shape.length === 3 ? [x.shape[0], x.shape[1], x.shape[2], 1] : x.shape;
  let channelsFirst = false;
  if (x.shape.length === 4) {
    const [, a, , d] = x.shape;
    if (a <= 4 && d > 4) {
      channelsFirst = true;
      [c, h, w] = [a, x.shape[2], d];
    } else if (!(d <= 4 && a > 4))
      bad(`cannot tell the channel axis of shape (${x.shape}): channels must be 1 to 4 and the image larger than 4x4`);
  }
  const keep = limit === undefined ? n : Math.min(n, limit);
  const size = h * w * c;
  const xs = new Float32Array(keep * size);
  const src = x.data as Uint8Array | Float32Array;
  const scale = x.dtype === 'uint8' ? 1 / 255 : 1;
  const table = x.dtype === 'uint8' ? Float32Array.from({ length: 256 }, (_, v) => v / 255) : null;
  const value = (i: number): number => (table ? table[src[i]] : src[i] * scale);
  if (!channelsFirst) for (let i = 0; i < xs.length; i++) xs[i] = value(i);
  else
    for (let s = 0; s < keep; s++)
      for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) xs[s * size + p * c + ch] = value(s * size + ch * h * w + p);
  const ys = new Uint8Array(keep);
  for (let i = 0; i < keep; i++) {
    const v = Number(y.data[i]);
    if (!(Number.isInteger(v) && v >= 0 && v <= 255)) bad(`label ${i} is ${v}, labels must be class indices 0..255`);
    ys[i] = v;
  }
  n = keep;
  return { split: { x: xs, y: ys, n }, chw: [c, h, w] };
}
