import { fail } from '../core/errors.js';

/**
 * NumPy's .npy format (numpy.lib.format, versions 1 to 3): the magic "\x93NUMPY", a version, a
 * header length and a Python-dict header {'descr': '<f4', 'fortran_order': False, 'shape': (n, ...)}
 * followed by the raw C-order array. Pure, so it also runs in the browser.
 */
export interface NpyArray {
  shape: number[];
  dtype: 'uint8' | 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint16';
  data: Uint8Array | Float32Array | Float64Array | Int32Array | Int8Array | Uint16Array | BigInt64Array;
}

const DTYPES: Record<string, NpyArray['dtype']> = {
  '|u1': 'uint8',
  '<u1': 'uint8',
  '|i1': 'int8',
  '<i1': 'int8',
  '<u2': 'uint16',
  '<i4': 'int32',
  '<i8': 'int64',
  '<f4': 'float32',
  '<f8': 'float64',
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

export function parseNpy(bytes: Uint8Array, source: string): NpyArray {
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m))
    fail(`${source} is not a NumPy .npy file (no \\x93NUMPY magic): save it with numpy.save`);
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > bytes.length) fail(`${source}: the .npy header runs past the end of the file: the file is truncated`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`${source}: unreadable .npy header ${header.trim()}`);
  const dtype = DTYPES[descr];
  if (!dtype) fail(`${source}: NumPy dtype '${descr}' is not supported: save images as uint8 or float32 and labels as an integer type`);
  if (fortran === 'True') fail(`${source}: the array is in Fortran order: save it with numpy.save(path, numpy.ascontiguousarray(a))`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`${source}: bad shape (${shapeText}) in the .npy header`);
  const n = shape.reduce((a, b) => a * b, 1);
  const per = { uint8: 1, int8: 1, uint16: 2, int32: 4, int64: 8, float32: 4, float64: 8 }[dtype];
  const off = start + headerLen;
  if (bytes.length - off !== n * per)
    fail(
      `${source}: holds ${bytes.length - off} bytes of data, its shape (${shape}) of ${dtype} needs ${n * per}: the file is truncated or corrupt`,
    );
  const buf = bytes.buffer.slice(bytes.byteOffset + off, bytes.byteOffset + bytes.length) as ArrayBuffer;
  const data = {
    uint8: () => new Uint8Array(buf),
    int8: () => new Int8Array(buf),
    uint16: () => new Uint16Array(buf),
    int32: () => new Int32Array(buf),
    int64: () => new BigInt64Array(buf),
    float32: () => new Float32Array(buf),
    float64: () => new Float64Array(buf),
  }[dtype]();
  return { shape, dtype, data };
}

/** A C-order .npy file (version 1) of a float32 or uint8 array. */
export function writeNpy(shape: readonly number[], data: Float32Array | Uint8Array): Uint8Array {
  const descr = data instanceof Float32Array ? '<f4' : '|u1';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pad = 64 - ((10 + header.length + 1) % 64);
  header = `${header}${' '.repeat(pad % 64)}\n`;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}
