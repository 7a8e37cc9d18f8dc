import {
  FAULT_MAP_FORMAT,
  FAULT_MAP_VERSION,
  type FaultSpec,
  faultMapsToSVG,
  faultMapToJSON,
  formatFaultSpec,
  type MapPlacement,
} from '../faults/index.js';
import type { Chip } from './chip.js';
import { mappingOf, physicalCols } from './mapping.js';
import type { CrossbarPlan } from './plan.js';

/** Cells between arrays in a chip's picture. */
const GAP = 3;

/** One weighted layer's defect map on one chip: the `xbar-fault-map` JSON the report reads, and an SVG picture. */
export interface ChipLayerMap {
  chip: number;
  layer: number;
  json: Record<string, unknown>;
  svg: string;
}

/**
 * The defect maps of one programmed chip, one per weighted layer with a stuck cell: every tile's
 * map, and a picture of the tiles as they sit on the chip.
 */
export function chipMaps(plan: CrossbarPlan, chip: Chip, faults: FaultSpec, seed: number): ChipLayerMap[] {
  const out: ChipLayerMap[] = [];
  chip.layers.forEach((lc, l) => {
    if (lc.faults.every((m) => m === null)) return;
    const lp = plan.layers[l];
    const items: MapPlacement[] = [];
    const m = mappingOf(plan.circuit);
    const tiles = lp.tiles.map((t, k) => {
      const map = lc.faults[k];
      const row = lp.rowTiles.findIndex((rt) => rt.includes(t));
      const col = lp.rowTiles[row].indexOf(t);
      // Physical columns of the arrays to its left, as mapping.ts lays them out.
      const x = lp.rowTiles[row].slice(0, col).reduce((a, u) => a + physicalCols(u.c1 - u.c0, m), 0);
      if (map) items.push({ map, x: x + GAP * col, y: t.r0 + GAP * row });
      const cols = physicalCols(t.c1 - t.c0, m);
      return { r0: t.r0, r1: t.r1, c0: t.c0, c1: t.c1, x0: x, cols, map: map ? faultMapToJSON(map) : null };
    });
    const json = {
      format: FAULT_MAP_FORMAT,
      version: FAULT_MAP_VERSION,
      seed,
      chip: chip.index,
      layer: l,
      faults: formatFaultSpec(faults),
      tiles,
    };
    const title = `chip ${chip.index}, layer ${l} (${lp.nIn + 1}x${lp.nOut} weights on ${lp.tiles.length} array(s)): ${lc.faultyCells} faulty weights`;
    out.push({ chip: chip.index, layer: l, json, svg: faultMapsToSVG(items, { title }) });
  });
  return out;
}
