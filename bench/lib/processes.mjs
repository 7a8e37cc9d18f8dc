// Runs xbar processes for the cluster benches (shards.mjs, correctnet-shards.mjs).
import { spawn } from 'node:child_process';

/** Runs `node bin ARGS --quiet` for every ARGS at once; resolves with the wall seconds until the last ends. */
export function together(bin, runs) {
  const t0 = performance.now();
  return Promise.all(
    runs.map(
      (a) =>
        new Promise((done, fail) => {
          const p = spawn(process.execPath, [bin, ...a, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
          p.on('exit', (code) => (code === 0 ? done() : fail(new Error(`xbar ${a[0]} exited with ${code}`))));
        }),
    ),
  ).then(() => (performance.now() - t0) / 1000);
}
