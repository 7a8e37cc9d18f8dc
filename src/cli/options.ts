/** What every command shares: strict option parsers, the common options, the kernels they choose. */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseShard, type Shard } from '../cluster/shard.js';
import { XbarError } from '../core/errors.js';
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

/** --shard's parser: K/N, auto or auto/N (from the scheduler's environment). */
export function shardOption(v: string): Shard {
  try {
    return parseShard(v, process.env);
  } catch (e) {
    if (e instanceof XbarError) throw new InvalidArgumentError(e.message);
    throw e;
  }
}

/** How weights sit on cells (crossbar/mapping.ts): the flags of every command that builds chips (HardwareOptions). */
export function mappingOptions(c: Command): Command {
  return c
    .addOption(
      new Option(
        '--mapping <scheme>',
        'a weight as a differential pair (G+, G-), or as one cell against a shared reference column per array (docs/devices.md)',
      ).argParser(choiceOption(['differential', 'reference'] as const)),
    )
    .option('--cells-per-weight <n>', 'cells (pairs, when differential) per weight, each on its own bit lines (default 1)', intOption(1, 8))
    .option(
      '--slice-bits <k>',
      'with --cells-per-weight N: K-bit slices of an N*K-bit weight (default 0: each cell holds the whole weight)',
      intOption(0, 8),
    );
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
