import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/** The built command line (npm test builds dist/ first), run as a user runs it. */
export const bin = resolve(import.meta.dirname, '../dist/cli/main.js');

/** Runs `xbar ARGS...` to the end: its exit code, stdout and stderr (no colours). */
export const xbar = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
