import type { Command } from 'commander';
import { drawFaults } from '../faults/node.js';
import { intOption, pct } from './options.js';

/** `xbar faults`: one array's defect map from a spec (src/faults/node.ts, drawFaults). */
export function registerFaults(p: Command): void {
  p.command('faults')
    .description(
      'draw the defect map of one array from a fault spec: an SVG picture, or a map (.json, .png, .csv) that --faults reads back',
    )
    .requiredOption('--spec <spec>', "fault spec, e.g. 'ring:radius=0.3,width=0.1' or a JSON file (see docs/faults.md)")
    .option('--rows <n>', 'array rows', intOption(1, 1 << 14), 64)
    .option('--cols <n>', 'array physical columns (2 per weight column with the default differential pair)', intOption(1, 1 << 14), 64)
    .option('-s, --seed <n>', 'random seed', intOption(0, 2 ** 31 - 1), 1)
    .requiredOption('-o, --out <file>', 'output file: .svg, .json, .png or .csv (docs/faults.md)')
    .action((o) => {
      const r = drawFaults(o);
      const [, on, off, at] = r.counts;
      console.log(
        `${o.out}: ${on + off + at} of ${r.cells} cells stuck (${pct((on + off + at) / r.cells)}): ${on} stuck-on, ${off} stuck-off, ${at} stuck-at`,
      );
      // The picture is one array with every term on it; in a simulation each term goes only to its layers.
      console.log(`on a chip: ${r.layers.join('; ')}`);
    });
}
