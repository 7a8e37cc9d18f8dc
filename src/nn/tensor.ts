/** A batch of activations: row-major data, shape[0] is the batch; images are NHWC. */
export interface Tensor {
  data: Float32Array;
  shape: number[];
}

export const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function tensor(shape: number[], data?: Float32Array): Tensor {
  const n = size(shape);
  if (data && data.length !== n) throw new RangeError(`tensor data has ${data.length} values, shape ${shape} needs ${n}`);
  return { data: data ?? new Float32Array(n), shape };
}

/** A trainable array and its gradient, named for the saved model's manifest. */
export interface Param {
  name: string;
  shape: number[];
  value: Float32Array;
  grad: Float32Array;
  /**
   * A buffer: saved and copied with the weights, but never trained (batch norm's running
   * statistics). The optimizer skips it and its gradient stays zero.
   */
  buffer?: true;
}

export function param(name: string, shape: number[]): Param {
  const n = size(shape);
  return { name, shape, value: new Float32Array(n), grad: new Float32Array(n) };
}

export function buffer(name: string, shape: number[]): Param {
  return { ...param(name, shape), buffer: true };
}

/** Writes `row` into each of the first `rows` rows of `out` (bias initialisation before a GEMM). */
export function fillRows(out: Float32Array, row: Float32Array, rows: number): void {
  const f = row.length;
  const total = rows * f;
  if (total <= 0) return;
  out.set(row, 0);
  // Doubling copies: log2(rows) memmoves instead of one small copy per row (rows of a first
  // convolution are 6 values, and there are ~10^6 of them per batch).
  for (let done = f; done < total; ) {
    const len = Math.min(done, total - done);
    out.copyWithin(done, 0, len);
    done += len;
  }
}

/**
 * The bits of a Float32Array as an Int32Array over the same memory. Selecting a value or +0 by
 * masking its bits (bits & -(condition)) needs no branch: a branch on the sign of activations is
 * mispredicted about half the time (~3x slower loops for ReLU, its gradient and max pooling).
 */
export const bitsOf = (a: Float32Array): Int32Array => new Int32Array(a.buffer, a.byteOffset, a.length);
