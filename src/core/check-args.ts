import { XbarError } from './errors.js';

/**
 * Argument checks for the library's public functions (train, evaluate, runMonteCarlo, ...): a bad
 * argument is an XbarError naming it, never a NaN result, an empty one, or a TypeError from deep
 * inside. Datasets read from files are checked where they are read (src/data); these checks are
 * for values a library user builds by hand.
 */

/** A whole number in [min, max]. */
export function wholeNumber(v: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new XbarError(
      `${name} must be a whole number ${max < Number.MAX_SAFE_INTEGER ? `from ${min} to ${max}` : `>= ${min}`}, not ${String(v)}`,
    );
  return v;
}

/** A finite number in [min, max] (min exclusive when `above` is set). */
export function finiteNumber(v: unknown, name: string, min: number, max = Number.POSITIVE_INFINITY, above = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (above ? v <= min : v < min) || v > max)
    throw new XbarError(
      `${name} must be a number ${above ? '>' : '>='} ${min}${Number.isFinite(max) ? ` and <= ${max}` : ''}, not ${String(v)}`,
    );
  return v;
}

/** The shape of a split as the model and its outputs need it: images of `inputSize` floats, labels below `classes`. */
export function checkSplit(split: unknown, inputSize: number, classes: number, name: string, opts: { allowEmpty?: boolean } = {}): void {
  const s = split as { x?: unknown; y?: unknown; n?: unknown } | null;
  if (!s || typeof s !== 'object') throw new XbarError(`${name} must be a split { x: Float32Array, y: Uint8Array, n }`);
  const n = wholeNumber(s.n, `${name}.n`, opts.allowEmpty ? 0 : 1);
  if (!(s.x instanceof Float32Array)) throw new XbarError(`${name}.x must be a Float32Array of images`);
  if (!(s.y instanceof Uint8Array)) throw new XbarError(`${name}.y must be a Uint8Array of labels`);
  if (s.x.length < n * inputSize)
    throw new XbarError(`${name}.x holds ${s.x.length} floats, but ${n} images of ${inputSize} need ${n * inputSize}`);
  if (s.y.length < n) throw new XbarError(`${name}.y holds ${s.y.length} labels for ${n} images`);
  for (let i = 0; i < n; i++)
    if (s.y[i] >= classes)
      throw new XbarError(`${name}: label ${s.y[i]} of image ${i} is not a class of a model with ${classes} outputs (0..${classes - 1})`);
}

/** A seed: any whole number (derived seeds may be large or negative; Rng folds them to 32 bits). */
export function seedArg(v: unknown, name = 'seed'): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new XbarError(`${name} must be a whole number, not ${String(v)}`);
  return v;
}
