import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { Rng } from '../core/rng.js';
import { programChip } from '../crossbar/chip.js';
import { writeChipMapFiles } from '../crossbar/maps-node.js';
import type { CrossbarPlan } from '../crossbar/plan.js';
import type { Device } from '../device/config.js';
import {
  countFaults,
  FAULT_MAP_FORMAT,
  FAULT_MAP_VERSION,
  type FaultSpec,
  faultMapsToSVG,
  faultMapToJSON,
  formatFaultSpec,
  generateFaultMap,
} from '../faults/index.js';
// Node side only: fast-png is not in the browser entry, which loads as plain ES modules.
import { mapToCsv, mapToPng } from '../faults/map-file.js';
import { loadFaultSpec } from '../faults/node.js';

/**
 * Writes the defect maps of chips first..first+count-1 of a run: per chip and weighted layer, a
 * JSON file (every tile's map) and an SVG picture of the tiles as they sit on the chip.
 */
export function writeChipMaps(
  dir: string,
  plan: CrossbarPlan,
  dev: Device,
  faults: FaultSpec,
  seed: number,
  count: number,
  first = 0,
): string[] {
  const written: string[] = [];
  for (let c = first; c < first + count; c++)
    written.push(...writeChipMapFiles(dir, plan, programChip(plan, dev, faults, seed, c), faults, seed));
  return written;
}

export interface DrawOptions {
  spec: string;
  rows: number;
  cols: number;
  seed: number;
  out: string;
}

/** `xbar faults`: draws one array's map from a spec, to preview a pattern. */
export function drawFaults(o: DrawOptions): { counts: number[]; cells: number } {
  if (!/\.(svg|json|png|csv)$/.test(o.out)) throw new XbarError(`--out ${o.out} must end in .svg, .json, .png or .csv`);
  const spec = loadFaultSpec(o.spec);
  const map = generateFaultMap(
    o.rows,
    o.cols,
    spec.flatMap((g) => g.patterns),
    new Rng(o.seed),
  );
  // .png and .csv are the measured-map formats --faults reads back (faults/map-file.ts).
  if (o.out.endsWith('.png')) writeFileAtomic(o.out, mapToPng(map));
  else if (o.out.endsWith('.csv')) writeFileAtomic(o.out, mapToCsv(map));
  else if (o.out.endsWith('.json'))
    writeFileAtomic(
      o.out,
      `${JSON.stringify({ format: FAULT_MAP_FORMAT, version: FAULT_MAP_VERSION, seed: o.seed, faults: formatFaultSpec(spec), map: faultMapToJSON(map) })}\n`,
    );
  else writeFileAtomic(o.out, faultMapsToSVG([{ map, x: 0, y: 0 }], { title: `${o.spec} (${o.rows}x${o.cols}, seed ${o.seed})` }));
  return { counts: countFaults(map), cells: o.rows * o.cols };
}
