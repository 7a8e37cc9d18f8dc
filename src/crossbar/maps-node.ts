import { join } from 'node:path';
import { writeFileAtomic } from '../core/fs-node.js';
import type { FaultSpec } from '../faults/index.js';
import type { Chip } from './chip.js';
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

/** Writes one programmed chip's defect maps (chipMaps): the files the report draws. */
export function writeChipMapFiles(dir: string, plan: CrossbarPlan, chip: Chip, faults: FaultSpec, seed: number): string[] {
  return writeMapFiles(dir, chipMaps(plan, chip, faults, seed));
}
