import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { decodeIdx, isGzip } from '../../src/data/idx.js';
import { readIdxFile } from '../../src/data/idx-node.js';

type Setter = 'setUint8' | 'setInt8' | 'setInt16' | 'setInt32' | 'setFloat32' | 'setFloat64';

/** Hand-built IDX bytes: header, big-endian dims, then values written big-endian with `setter`. */
function build(type: number, dims: number[], values: number[], setter: Setter, size: number): Uint8Array {
  const head = 4 + 4 * dims.length;
  const out = new Uint8Array(head + values.length * size);
  const v = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  for (const [i, d] of dims.entries()) v.setUint32(4 + 4 * i, d);
  for (const [i, x] of values.entries()) v[setter](head + i * size, x, false);
  return out;
}

const cases = [
  { name: 'ubyte', type: 0x08, setter: 'setUint8', size: 1, values: [0, 1, 127, 128, 255, 42], ctor: Uint8Array },
  { name: 'sbyte', type: 0x09, setter: 'setInt8', size: 1, values: [-128, -1, 0, 1, 127, 5], ctor: Int8Array },
  { name: 'short', type: 0x0b, setter: 'setInt16', size: 2, values: [-32768, -2, 0, 258, 32767, 7], ctor: Int16Array },
  { name: 'int', type: 0x0c, setter: 'setInt32', size: 4, values: [-(2 ** 31), -3, 0, 65536, 2 ** 31 - 1, 9], ctor: Int32Array },
  { name: 'float', type: 0x0d, setter: 'setFloat32', size: 4, values: [-1.5, 0, 0.25, 3e10, -7, 1], ctor: Float32Array },
  { name: 'double', type: 0x0e, setter: 'setFloat64', size: 8, values: [-1e-300, 0, Math.PI, 1e300, -7, 1], ctor: Float64Array },
] as const;

const expectXbar = (fn: () => unknown, ...parts: string[]) => {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(XbarError);
  for (const p of parts) expect((err as Error).message).toContain(p);
  expect((err as Error).message).not.toContain('\n');
};

describe('decodeIdx', () => {
  for (const c of cases) {
    it(`decodes ${c.name} big-endian`, () => {
      const bytes = build(c.type, [2, 3], [...c.values], c.setter, c.size);
      const arr = decodeIdx(bytes, 'f');
      expect(arr.dims).toEqual([2, 3]);
      expect(arr.data).toBeInstanceOf(c.ctor);
      expect(Array.from(arr.data)).toEqual(Array.from(c.ctor.from(c.values)));
    });
  }

  it('decodes from a view with a non-zero, unaligned byte offset', () => {
    const inner = build(0x0e, [2], [1.25, -2], 'setFloat64', 8);
    const outer = new Uint8Array(inner.length + 3);
    outer.set(inner, 3);
    expect(Array.from(decodeIdx(outer.subarray(3), 'f').data)).toEqual([1.25, -2]);
  });

  it('copies, so the result does not alias the input', () => {
    const bytes = build(0x08, [3], [1, 2, 3], 'setUint8', 1);
    const arr = decodeIdx(bytes, 'f');
    bytes[8] = 99;
    expect(Array.from(arr.data)).toEqual([1, 2, 3]);
  });

  it('rejects a header that is too short', () => {
    expectXbar(() => decodeIdx(new Uint8Array([0, 0]), 'short.idx'), 'short.idx', 'too short');
    expectXbar(() => decodeIdx(new Uint8Array([0, 0, 8, 3, 0, 0, 0, 1]), 'h.idx'), 'h.idx', 'too short', '3 dimensions');
  });

  it('rejects bad magic, and says when the bytes are gzip', () => {
    expectXbar(() => decodeIdx(new Uint8Array([1, 2, 8, 1, 0, 0, 0, 1, 5]), 'x.bin'), 'x.bin', 'not an IDX file (magic 01 02 08 01');
    expectXbar(() => decodeIdx(gzipSync(build(0x08, [1], [1], 'setUint8', 1)), 'g'), 'not an IDX file', 'gunzip');
  });

  it('rejects an unknown type byte', () => {
    expectXbar(() => decodeIdx(new Uint8Array([0, 0, 0x0a, 1, 0, 0, 0, 1, 0]), 't.idx'), 't.idx', 'unknown IDX element type 0x0a');
  });

  it('rejects a wrong dims byte and zero or absurd dims', () => {
    expectXbar(() => decodeIdx(new Uint8Array([0, 0, 8, 0, 1, 2]), 'd0'), 'd0', '0 dimensions');
    expectXbar(() => decodeIdx(new Uint8Array([0, 0, 8, 200, ...new Array(800).fill(1)]), 'd200'), '200 dimensions');
    expectXbar(() => decodeIdx(build(0x08, [0, 5], [], 'setUint8', 1), 'z'), 'implausible IDX dimensions [0, 5]');
    expectXbar(() => decodeIdx(build(0x08, [70000, 70000], [], 'setUint8', 1), 'big'), 'implausible', '70000');
  });

  it('rejects truncated data', () => {
    const bytes = build(0x0c, [4], [1, 2, 3, 4], 'setInt32', 4);
    expectXbar(
      () => decodeIdx(bytes.subarray(0, bytes.length - 1), 'trunc.idx'),
      'trunc.idx',
      'expected 16 bytes of data, found 15: the file is truncated or corrupt; re-copy it',
    );
  });

  it('rejects trailing bytes', () => {
    const bytes = build(0x08, [2], [1, 2, 3], 'setUint8', 1);
    expectXbar(() => decodeIdx(bytes, 'tail.idx'), 'tail.idx', 'expected 2 bytes of data, found 3', 'trailing');
  });

  it('isGzip looks at the magic only', () => {
    expect(isGzip(gzipSync(new Uint8Array(3)))).toBe(true);
    expect(isGzip(new Uint8Array([0x1f]))).toBe(false);
    expect(isGzip(new Uint8Array([0, 0, 8, 1]))).toBe(false);
  });
});

describe('readIdxFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xbar-idx-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bytes = build(0x0b, [2, 2], [1, -2, 300, -400], 'setInt16', 2);

  it('gives the same result for raw and gzipped files, whatever the extension', () => {
    writeFileSync(join(dir, 'a.idx'), bytes);
    writeFileSync(join(dir, 'a.idx.gz'), gzipSync(bytes));
    writeFileSync(join(dir, 'misnamed.idx'), gzipSync(bytes));
    const raw = readIdxFile(join(dir, 'a.idx'));
    expect(raw).toEqual({ dims: [2, 2], data: Int16Array.from([1, -2, 300, -400]) });
    expect(readIdxFile(join(dir, 'a.idx.gz'))).toEqual(raw);
    expect(readIdxFile(join(dir, 'misnamed.idx'))).toEqual(raw);
  });

  it('reports corrupt gzip', () => {
    const gz = gzipSync(bytes);
    const p = join(dir, 'bad.gz');
    writeFileSync(p, gz.subarray(0, gz.length - 6));
    expectXbar(() => readIdxFile(p), p, 'corrupt gzip');
    const q = join(dir, 'garbled.gz');
    const g = Uint8Array.from(gz);
    g.fill(0xff, 10, 20);
    writeFileSync(q, g);
    expectXbar(() => readIdxFile(q), q, 'corrupt gzip');
  });

  it('reports a missing file and a directory', () => {
    expectXbar(() => readIdxFile(join(dir, 'nope')), join(dir, 'nope'), 'file not found');
    expectXbar(() => readIdxFile(dir), dir, 'cannot read');
  });

  it('names the file in decode errors', () => {
    const p = join(dir, 'trunc.gz');
    writeFileSync(p, gzipSync(bytes.subarray(0, bytes.length - 2)));
    expectXbar(() => readIdxFile(p), p, 'truncated');
  });
});
