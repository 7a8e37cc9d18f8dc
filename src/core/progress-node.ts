import cliProgress from 'cli-progress';

import { type Progress, silentProgress } from './progress.js';

/**
 * Progress on the terminal: a live bar on an interactive terminal, one line per finished unit
 * (epoch, chip) in logs, nothing with --quiet. Everything goes to stderr so stdout stays clean
 * for results.
 */
export function makeProgress(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (quiet) return silentProgress;
  if (!stream.isTTY) return { start() {}, update() {}, log: (l) => stream.write(`${l}\n`), stop() {} };
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(total, label) {
      bar?.stop();
      bar = new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {percentage}% {value}/{total} eta {eta_formatted} {info}`,
          stream,
          // Not hidden: a kill during a synchronous loop (training) would leave the terminal without a cursor.
          hideCursor: false,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { info: '' });
    },
    update(done, info = '') {
      bar?.update(done, { info });
    },
    log(line) {
      if (bar) {
        // cli-progress redraws on the current line: clear it, print, and let the next update redraw.
        stream.write(`\r\x1b[K${line}\n`);
      } else stream.write(`${line}\n`);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
