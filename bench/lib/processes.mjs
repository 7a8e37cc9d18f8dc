// Runs xbar processes for the cluster benches (shards.mjs, correctnet-shards.mjs).
import { spawn } from 'node:child_process';

/**
 * Runs `node bin ARGS --quiet` for every ARGS at once; resolves with the wall seconds until the last
 * ends. A run that fails ends the bench (its error line is above, on stderr).
 */
export function together(bin, runs) {
  const t0 = performance.now();
  return Promise.all(
    runs.map(
      (a) =>
        new Promise((done) => {
          const p = spawn(process.execPath, [bin, ...a, '--quiet'], { stdio: ['ignore', 'ignore', 'inherit'] });
          p.on('exit', (code) => {
            if (code === 0) return done();
            console.error(`bench: xbar ${a.join(' ')} exited with ${code}`);
            process.exit(1);
          });
        }),
    ),
  ).then(() => (performance.now() - t0) / 1000);
}
