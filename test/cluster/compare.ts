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
