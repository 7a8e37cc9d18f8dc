/**
 * What to undo when SIGINT (Ctrl-C) or SIGTERM arrives while xbar waits on something outside
 * itself: child processes to stop, temporary folders to remove. `onInterrupt(cleanup)` registers
 * a cleanup and returns the function that unregisters it. While any cleanup is registered, the
 * signals run every cleanup, show the terminal cursor again and exit 130 (SIGINT) or 143
 * (SIGTERM); with none registered the handlers are removed and the signals act as by default
 * (the process ends at once; the shell reports 130 or 143 the same way).
 *
 * Only for waits: Node runs a signal handler between tasks, so a handler installed around a long
 * synchronous loop (training) would defer Ctrl-C until the loop ends. Run folders need no handler
 * (src/study/run-folder.ts: a killed run leaves only its staging folder, which the next run
 * resumes or replaces).
 */

const cleanups = new Set<() => void>();
/** Cleanups that need the handlers (a wait on a child process); the others only ride along. */
let active = 0;
const SIGNALS = [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const;

function handler(signal: NodeJS.Signals): void {
  for (const c of [...cleanups]) {
    try {
      c();
    } catch {
      // every cleanup gets its chance
    }
  }
  // A progress bar may have hidden the cursor.
  if (process.stderr.isTTY) process.stderr.write('\x1b[?25h\n');
  process.exit(SIGNALS.find(([s]) => s === signal)?.[1] ?? 1);
}

/**
 * A `passive` cleanup installs no handler: it runs only if a signal arrives while an active one
 * is registered (a run folder's staging folder, removed when Ctrl-C stops a wait on ngspice).
 */
export function onInterrupt(cleanup: () => void, { passive = false } = {}): () => void {
  if (!passive && active++ === 0) for (const [signal] of SIGNALS) process.on(signal, handler);
  cleanups.add(cleanup);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    cleanups.delete(cleanup);
    if (!passive && --active === 0) for (const [signal] of SIGNALS) process.off(signal, handler);
  };
}
