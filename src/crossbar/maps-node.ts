import { join } from 'node:path';
import { writeFileAtomic } from '../core/fs-node.js';
import type { Device } from '../device/config.js';
import type { FaultSpec } from '../faults/index.js';
import { programChip } from './chip.js';
import { type ChipLayerMap, chipMaps } from './maps.js';
import type { CrossbarPlan } from './plan.js';

/** Writes maps as `<dir>/chip-<c>-layer-<l>.json|svg`; returns the SVGs written. */
export function writeMapFiles(dir: string, maps: ChipLayerMap[]): string[] {
  return maps.map((m) => {
    const base = join(dir, `chip-${m.chip}-layer-${m.layer}`);
    writeFileAtomic(`${base}.json`, `${JSON.stringify(m.json)}\n`);
    writeFileAtomic(`${base}.svg`, m.svg);
    return `${base}.svg`;
  });
}

/**
 * Writes the defect maps of chips first..first+count-1 of a run: per chip and weighted layer, a
 * JSON file (every tile's map) and an SVG picture of the tiles as they sit on the chip (chipMaps):
 * the files the report draws.
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
    written.push(...writeMapFiles(dir, chipMaps(plan, programChip(plan, dev, faults, seed, c), faults, seed)));
  return written;
}
