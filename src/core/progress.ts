/**
 * Progress for long work, as a study reports it: the Node terminal shows it as a bar or log
 * lines (progress-node.ts), the browser as it likes, a test not at all (silentProgress).
 */
export interface Progress {
  start(total: number, label: string): void;
  update(done: number, info?: string): void;
  /** A finished unit's summary: printed under the bar, or as a log line. */
  log(line: string): void;
  stop(): void;
}

export const silentProgress: Progress = { start() {}, update() {}, log() {}, stop() {} };
