/**
 * Decoder for the IDX format used by MNIST and its relatives (http://yann.lecun.com/exdb/mnist/):
 * bytes 0-1 zero, byte 2 the element type, byte 3 the number of dims, then each dim as a big-endian
 * uint32, then the elements big-endian. Pure: no Node imports, so it also runs in the browser.
 */
import { fail } from '../core/errors.js';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  data: IdxData;
}

interface IdxType {
  size: number;
  make(n: number): IdxData;
  read(view: DataView, offset: number): number;
}

const TYPES = new Map<number, IdxType>([
  [0x08, { size: 1, make: (n) => new Uint8Array(n), read: (v, o) => v.getUint8(o) }],
  [0x09, { size: 1, make: (n) => new Int8Array(n), read: (v, o) => v.getInt8(o) }],
  [0x0b, { size: 2, make: (n) => new Int16Array(n), read: (v, o) => v.getInt16(o) }],
  [0x0c, { size: 4, make: (n) => new Int32Array(n), read: (v, o) => v.getInt32(o) }],
  [0x0d, { size: 4, make: (n) => new Float32Array(n), read: (v, o) => v.getFloat32(o) }],
  [0x0e, { size: 8, make: (n) => new Float64Array(n), read: (v, o) => v.getFloat64(o) }],
]);

// Real IDX files have 1-4 dims; more than this means the header is not IDX at all.
const MAX_DIMS = 8;
// Larger than any array a typed array can hold: a dim product beyond this is a corrupt header.
const MAX_ELEMENTS = 2 ** 31 - 1;

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decode an IDX file's bytes; `label` (usually the path) names the file in error messages. */
export function decodeIdx(bytes: Uint8Array, label: string): IdxArray {
  if (bytes.length < 4) {
    fail(`${label}: only ${bytes.length} bytes, too short for an IDX header (4+ bytes): the file is truncated or empty; re-copy it`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hint = isGzip(bytes) ? 'it is gzip-compressed; gunzip it first' : 'pass an MNIST-format IDX file';
    fail(`${label}: not an IDX file (magic ${hex(bytes.subarray(0, 4))}, expected 00 00 <type> <ndims>): ${hint}`);
  }
  const type = TYPES.get(bytes[2]);
  if (!type) {
    fail(
      `${label}: unknown IDX element type 0x${hex(bytes.subarray(2, 3))} (expected 08, 09, 0b, 0c, 0d or 0e): the file is corrupt or not IDX`,
    );
  }
  const ndims = bytes[3];
  if (ndims === 0 || ndims > MAX_DIMS) {
    fail(`${label}: IDX header declares ${ndims} dimensions (expected 1 to ${MAX_DIMS}): the file is corrupt or not IDX`);
  }
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) {
    fail(
      `${label}: ${bytes.length} bytes, too short for an IDX header with ${ndims} dimensions (${headerLen} bytes): the file is truncated; re-copy it`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i);
    dims.push(d);
    count *= d;
  }
  if (count === 0 || count > MAX_ELEMENTS) {
    fail(`${label}: implausible IDX dimensions [${dims.join(', ')}]: the header is corrupt; re-copy the file`);
  }
  const expected = count * type.size;
  const found = bytes.length - headerLen;
  if (found < expected) {
    fail(`${label}: expected ${expected} bytes of data, found ${found}: the file is truncated or corrupt; re-copy it`);
  }
  if (found > expected) {
    fail(
      `${label}: expected ${expected} bytes of data, found ${found} (${found - expected} trailing bytes): the file is corrupt or its header is wrong; re-copy it`,
    );
  }
  if (type.size === 1) {
    const raw = bytes.slice(headerLen);
    return { dims, data: bytes[2] === 0x08 ? raw : new Int8Array(raw.buffer) };
  }
  const data = type.make(count);
  for (let i = 0, o = headerLen; i < count; i++, o += type.size) data[i] = type.read(view, o);
  return { dims, data };
}
