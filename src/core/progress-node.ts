import cliProgress from 'cli-progress';
import { type Progress, silentProgress } from './progress.js';

/** Off a terminal, a status line at least this often while work runs (a log must show a run is alive). */
export const HEARTBEAT_MS = 10_000;

/**
 * Time left from the rate so far: (elapsed / done) x (total - done). Null until the estimate means
 * something: at least 3 units done and 2 s elapsed (the first units include start-up: worker
 * threads, calibration, JIT), so the bar never says "0s" at 3%.
 */
export function etaSeconds(done: number, total: number, elapsedMs: number): number | null {
  if (done < 3 || elapsedMs < 2000 || done <= 0 || total <= 0) return null;
  return ((elapsedMs / done) * Math.max(0, total - done)) / 1000;
}

export function formatEta(s: number | null): string {
  if (s === null) return 'eta --';
  if (s < 60) return `eta ${Math.ceil(s)}s`;
  if (s < 3600) return `eta ${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `eta ${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Progress for long work: a live bar on an interactive terminal, one line per finished unit
 * (epoch, chip) in logs, nothing with --quiet. Everything goes to stderr so stdout stays clean
 * for results.
 */
export function makeProgress(quiet: boolean, stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): Progress {
  if (quiet) return silentProgress;
  let t0 = 0;
  let total = 0;
  let done = 0;
  let label = '';
  let info = '';
  const status = () =>
    `${label}: ${done}/${total} (${total ? Math.floor((100 * done) / total) : 0}%) ${formatEta(etaSeconds(done, total, now() - t0))}`;
  if (!stream.isTTY) {
    // A status line on update when HEARTBEAT_MS have passed, and from a timer while the event loop
    // is free (work in worker threads), so a log shows progress even when no unit finishes.
    let last = 0;
    let timer: NodeJS.Timeout | null = null;
    const beat = () => {
      last = now();
      stream.write(`${status()}${info ? ` ${info}` : ''}\n`);
    };
    return {
      start(n, l) {
        [t0, total, done, label, info, last] = [now(), n, 0, l, '', now()];
        if (timer) clearInterval(timer);
        timer = setInterval(beat, HEARTBEAT_MS);
        timer.unref();
      },
      update(d, i = '') {
        [done, info] = [d, i];
        if (now() - last >= HEARTBEAT_MS && d < total) beat();
      },
      log: (l) => stream.write(`${l}\n`),
      stop() {
        if (timer) clearInterval(timer);
        timer = null;
      },
    };
  }
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(n, l) {
      bar?.stop();
      [t0, total, done, label] = [now(), n, 0, l];
      bar = new cliProgress.SingleBar(
        {
          // Our own ETA: cli-progress's averages the last few updates' rate and read "0s" at 3-8%.
          format: `${l} [{bar}] {percentage}% {value}/{total} {left} {info}`,
          stream,
          // Not hidden: a kill during a synchronous loop (training) would leave the terminal without a cursor.
          hideCursor: false,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(n, 0, { info: '', left: formatEta(null) });
    },
    update(d, i = '') {
      done = d;
      bar?.update(d, { info: i, left: formatEta(etaSeconds(d, total, now() - t0)) });
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
