import { existsSync, readFileSync } from 'node:fs';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { checkFits, faultMapMemory } from '../core/memory.js';
import { availableMemory } from '../core/memory-node.js';
import { Rng } from '../core/rng.js';
import { type ArrayMap, mapFromCsv, mapFromPng, mapsFromJson, mapToCsv, mapToPng } from './map-file.js';
import { countFaults, generateFaultMap } from './pattern.js';
import { FAULT_MAP_FORMAT, FAULT_MAP_VERSION, faultMapsToSVG, faultMapToJSON } from './render.js';
import { describeFaultLayers, type FaultSpec, faultSpecFromJSON, formatFaultSpec, parseFaultSpec } from './spec.js';

/**
 * `--faults` takes the text form, the path of a JSON file holding a spec, or measured defect-map
 * files (map-file.ts: .png, .csv, .json) as terms of the text form, e.g. `wafer.png@layers=0` or
 * `wafer.csv+random:sa1=0.001`.
 */
export function loadFaultSpec(textOrPath: string): FaultSpec {
  // A bare .json path (any case) is a whole spec or one defect map; with '+', '@' or brackets it is a term.
  if (/\.json$/i.test(textOrPath) && !/[+@[\]]/.test(textOrPath)) {
    const json = readJson(textOrPath);
    const maps = mapsFromJson(json, `defect map ${textOrPath}`);
    if (maps) return [{ patterns: [], layers: 'all', maps: { source: textOrPath, arrays: maps } }];
    return faultSpecFromJSON(json, `fault spec file ${textOrPath}`);
  }
  return parseFaultSpec(textOrPath, readMapFile);
}

function readJson(path: string): unknown {
  if (!existsSync(path)) throw new XbarError(`fault file ${path} not found`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new XbarError(`fault file ${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** One defect-map file's arrays. */
export function readMapFile(path: string): ArrayMap[] {
  if (!existsSync(path)) throw new XbarError(`defect map ${path} not found`);
  const where = `defect map ${path}`;
  if (/\.png$/i.test(path)) return [{ map: mapFromPng(new Uint8Array(readFileSync(path)), where) }];
  if (/\.csv$/i.test(path)) return [{ map: mapFromCsv(readFileSync(path, 'utf8'), where) }];
  const maps = mapsFromJson(readJson(path), where);
  if (!maps) throw new XbarError(`${where} is not a defect map: give format xbar-fault-map or xbar-defect-list (docs/faults.md)`);
  return maps;
}

export interface DrawOptions {
  spec: string;
  rows: number;
  cols: number;
  seed: number;
  out: string;
}

/**
 * `xbar faults`: draws one array's map from a spec, to preview a pattern: an SVG picture, or a
 * map file (.json, .png, .csv) that --faults reads back.
 */
export function drawFaults(o: DrawOptions): { counts: number[]; cells: number; layers: string[] } {
  if (!/\.(svg|json|png|csv)$/.test(o.out)) throw new XbarError(`--out ${o.out} must end in .svg, .json, .png or .csv`);
  const spec = loadFaultSpec(o.spec);
  checkFits(
    faultMapMemory(o.rows, o.cols),
    availableMemory(),
    `drawing a ${o.rows}x${o.cols} array`,
    'draw a smaller array (--rows, --cols)',
  );
  const map = generateFaultMap(
    o.rows,
    o.cols,
    spec.flatMap((g) => g.patterns),
    new Rng(o.seed),
  );
  // .png and .csv are the measured-map formats --faults reads back (map-file.ts).
  if (o.out.endsWith('.png')) writeFileAtomic(o.out, mapToPng(map));
  else if (o.out.endsWith('.csv')) writeFileAtomic(o.out, mapToCsv(map));
  else if (o.out.endsWith('.json'))
    writeFileAtomic(
      o.out,
      `${JSON.stringify({ format: FAULT_MAP_FORMAT, version: FAULT_MAP_VERSION, seed: o.seed, faults: formatFaultSpec(spec), map: faultMapToJSON(map) })}\n`,
    );
  else writeFileAtomic(o.out, faultMapsToSVG([{ map, x: 0, y: 0 }], { title: `${o.spec} (${o.rows}x${o.cols}, seed ${o.seed})` }));
  return { counts: countFaults(map), cells: o.rows * o.cols, layers: describeFaultLayers(spec) };
}
