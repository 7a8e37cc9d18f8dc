import { join } from 'node:path';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { Rng } from '../core/rng.js';
import { programChip } from '../crossbar/chip.js';
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
  type MapPlacement,
} from '../faults/index.js';
import { loadFaultSpec } from '../faults/node.js';

const GAP = 3;

/**
 * Writes the defect maps of chips first..first+count-1 of a run: per chip and weighted layer, a
 * JSON file (every tile's map) and an SVG picture of the tiles as they sit on the chip.
 */
export function writeChipMaps(dir: string, plan: CrossbarPlan, dev: Device, faults: FaultSpec, seed: number, count: number): string[] {
  const written: string[] = [];
  for (let c = 0; c < count; c++) {
    const chip = programChip(plan, dev, faults, seed, c);
    chip.layers.forEach((lc, l) => {
      if (lc.faults.every((m) => m === null)) return;
      const lp = plan.layers[l];
      const items: MapPlacement[] = [];
      const tiles = lp.tiles.map((t, k) => {
        const map = lc.faults[k];
        const row = lp.rowTiles.findIndex((rt) => rt.includes(t));
        const col = lp.rowTiles[row].indexOf(t);
        if (map) items.push({ map, x: 2 * t.c0 + GAP * col, y: t.r0 + GAP * row });
        return { r0: t.r0, r1: t.r1, c0: t.c0, c1: t.c1, map: map ? faultMapToJSON(map) : null };
      });
      const base = join(dir, `chip-${c}-layer-${l}`);
      const json = {
        format: FAULT_MAP_FORMAT,
        version: FAULT_MAP_VERSION,
        seed,
        chip: c,
        layer: l,
        faults: formatFaultSpec(faults),
        tiles,
      };
      writeFileAtomic(`${base}.json`, `${JSON.stringify(json)}\n`);
      const title = `chip ${c}, layer ${l} (${lp.nIn + 1}x${lp.nOut} weights on ${lp.tiles.length} array(s)): ${lc.faultyCells} faulty weights`;
      writeFileAtomic(`${base}.svg`, faultMapsToSVG(items, { title }));
      written.push(`${base}.svg`);
    });
  }
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
  if (!/\.(svg|json)$/.test(o.out)) throw new XbarError(`--out ${o.out} must end in .svg or .json`);
  const spec = loadFaultSpec(o.spec);
  const map = generateFaultMap(
    o.rows,
    o.cols,
    spec.flatMap((g) => g.patterns),
    new Rng(o.seed),
  );
  if (o.out.endsWith('.json'))
    writeFileAtomic(
      o.out,
      `${JSON.stringify({ format: FAULT_MAP_FORMAT, version: FAULT_MAP_VERSION, seed: o.seed, faults: formatFaultSpec(spec), map: faultMapToJSON(map) })}\n`,
    );
  else writeFileAtomic(o.out, faultMapsToSVG([{ map, x: 0, y: 0 }], { title: `${o.spec} (${o.rows}x${o.cols}, seed ${o.seed})` }));
  return { counts: countFaults(map), cells: o.rows * o.cols };
}
