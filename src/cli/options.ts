/** What every command shares: strict option parsers, the common options, the kernels they choose. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { loadKernels } from '../core/kernels-node.js';

/** Strict option parsers: '12abc', '', NaN and out-of-range values are usage errors, not silently coerced. */
export function intOption(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, got '${v}'.`,
      );
    return n;
  };
}

export function floatOption(min: number, max: number, opts: { minExclusive?: boolean; maxExclusive?: boolean } = {}) {
  return (v: string): number => {
    const n = Number(v);
    const lo = opts.minExclusive ? n > min : n >= min;
    const hi = opts.maxExclusive ? n < max : n <= max;
    if (v.trim() === '' || !Number.isFinite(n) || !lo || !hi)
      throw new InvalidArgumentError(
        `expected a number in ${opts.minExclusive ? '(' : '['}${min}, ${max}${opts.maxExclusive ? ')' : ']'}, got '${v}'.`,
      );
    return n;
  };
}

export function choiceOption<T extends string>(choices: readonly T[]) {
  return (v: string): T => {
    if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${choices.join(', ')}, got '${v}'.`);
    return v as T;
  };
}

/** --data-dir's help, the same for every command. */
export const DATA_DIR_HELP =
  'read the data from this folder instead: the four IDX files (raw or .gz), or NumPy x_train.npy, y_train.npy, x_test.npy, y_test.npy (or one .npz)';

export const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

export function kernelsFrom(opts: { kernels?: 'native' | 'js'; threads?: number }) {
  return loadKernels({ prefer: opts.kernels, threads: opts.threads });
}

/** Options of every command: --json, --quiet. */
export const output = (c: Command): Command =>
  c.option('--json', 'print the result as JSON on stdout').option('-q, --quiet', 'no progress output');

/** Options every compute command takes: kernels, threads, --json, --quiet. */
export const common = (c: Command): Command =>
  output(
    c
      .addOption(
        new Option('--kernels <kind>', 'numeric kernels: native (OpenBLAS) or js (portable)').argParser(
          choiceOption(['native', 'js'] as const),
        ),
      )
      .option('--threads <n>', 'threads for the native kernels (default: all cores)', intOption(1, 256)),
  );
