import { type Command, Option } from 'commander';
import { loadKernels } from '../core/kernels-node.js';
import { choiceOption, intOption } from './options.js';

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
