import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listFiles } from '../../src/core/run-manifest.js';

/**
 * A simulate results folder with what may differ between a sharded run and the unsharded one
 * dropped: when it ran (createdAt), how long it took (seconds, the last column of summary.csv)
 * and where it went (command.out). Everything else, the defect maps included, must be equal.
 */
export function comparable(dir: string) {
  const json = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
  json.createdAt = undefined;
  json.command.out = undefined;
  for (const p of json.points) p.seconds = undefined;
  const summary = readFileSync(join(dir, 'summary.csv'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(',').slice(0, -1).join(','));
  const maps = listFiles(dir)
    .filter((f) => f.startsWith('maps/'))
    .map((f) => [f, readFileSync(join(dir, f), 'utf8')]);
  return { json: JSON.stringify(json), chips: readFileSync(join(dir, 'chips.csv'), 'utf8'), summary, maps };
}

/**
 * A correctnet results folder with what may differ between a merged sharded run and the unsharded
 * one dropped: when it ran (createdAt), how long steps took (seconds, secondsPerChip, and the
 * seconds in table.md) and where it went (the --out path in paths). Kept: every accuracy of every
 * chip, the summaries, placements, costs, the table, and the networks' weight checksums.
 */
export function comparableCorrectnet(dir: string) {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !['createdAt', 'seconds', 'secondsPerChip'].includes(k))
          .map(([k, x]) => [k, strip(x)]),
      );
    return typeof v === 'string' ? v.replaceAll(dir, 'OUT') : v;
  };
  const table = readFileSync(join(dir, 'table.md'), 'utf8')
    .replace(/[\d.]+ s of calibration per chip/g, 'S s of calibration per chip')
    .replace(/^(\| rl \|.*\| )\d+ \|$/gm, '$1S |');
  const weights = (rel: string) => JSON.parse(readFileSync(join(dir, rel, 'model.json'), 'utf8')).weightsSha256;
  return {
    results: strip(JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'))),
    table,
    networks: ['plain', 'noise', 'lipschitz', 'lipschitz-comp', 'noise-comp'].map(weights),
  };
}
