// Runs xbar processes for the cluster benches (shards.mjs, correctnet-shards.mjs).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const rssAtExit = join(dirname(fileURLToPath(import.meta.url)), 'rss-at-exit.mjs');
let spawned = 0;

/**
 * Runs `node bin ARGS --quiet` for every ARGS at once; resolves with the wall seconds until the last
 * ends and the largest peak RSS (MiB) among the processes. A run that fails ends the bench (its error
 * line is above, on stderr).
 */
export function together(bin, runs, work) {
  const t0 = performance.now();
  return Promise.all(
    runs.map(
      (a) =>
        new Promise((done) => {
          const rssFile = join(work, `rss-${process.pid}-${spawned++}`);
          const p = spawn(process.execPath, ['--import', rssAtExit, bin, ...a, '--quiet'], {
            stdio: ['ignore', 'ignore', 'inherit'],
            env: { ...process.env, XBAR_BENCH_RSS_FILE: rssFile },
          });
          p.on('exit', (code) => {
            if (code !== 0) {
              console.error(`bench: xbar ${a.join(' ')} exited with ${code}`);
              process.exit(1);
            }
            const kib = Number(readFileSync(rssFile, 'utf8'));
            rmSync(rssFile);
            done(kib / 1024);
          });
        }),
    ),
  ).then((rss) => ({ seconds: (performance.now() - t0) / 1000, peakRssMiB: Math.max(...rss) }));
}

/**
 * What a bench of the built CLI's processes starts with (bench/shards.mjs, bench/correctnet-shards.mjs):
 * the CLI (refused in one line when not built), `together` bound to it, the flags, and a work
 * folder removed at exit.
 */
export function cliBench(script, workPrefix) {
  const bin = join(dirname(fileURLToPath(import.meta.url)), '../../dist/cli/main.js');
  if (!existsSync(bin)) {
    console.error(`bench/${script} runs the built CLI: run \`npm run build\` first.`);
    process.exit(1);
  }
  const argv = process.argv.slice(2);
  const option = (name, fallback) => {
    const i = argv.indexOf(name);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
  };
  const json = argv.includes('--json');
  const work = mkdtempSync(join(tmpdir(), workPrefix));
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  return { bin, together: (runs) => together(bin, runs, work), option, json, log: json ? () => {} : (...a) => console.error(...a), work };
}

/** The last lines of both cluster benches: each kind of process's peak RSS, rounds and machine load. */
export function printRunFooter(peakRss, rounds, load, cores) {
  console.log(
    `peak RSS per process: ${Object.entries(peakRss)
      .map(([k, v]) => `${k} ${Math.round(v)} MiB`)
      .join(', ')}`,
  );
  console.log(
    `medians of ${rounds} round(s); merged chips equal the single-process run's; load average ${load.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end, ${cores} cores`,
  );
}
