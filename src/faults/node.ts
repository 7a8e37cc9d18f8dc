import { existsSync, readFileSync } from 'node:fs';
import { XbarError } from '../core/errors.js';
import { type ArrayMap, mapFromCsv, mapFromPng, mapsFromJson } from './map-file.js';
import { type FaultGroup, type FaultSpec, faultSpecFromJSON, parseFaultSpec, parseLayers } from './spec.js';

const MAP_FILE = /\.(png|csv|json)$/i;

/**
 * `--faults` takes the text form, the path of a JSON file holding a spec, or measured defect-map
 * files (map-file.ts: .png, .csv, .json) as terms of the text form, e.g. `wafer.png@layers=0` or
 * `wafer.csv+random:sa1=0.001`.
 */
export function loadFaultSpec(textOrPath: string): FaultSpec {
  if (textOrPath.endsWith('.json') && !textOrPath.includes('@') && !textOrPath.includes('+')) {
    const json = readJson(textOrPath);
    const maps = mapsFromJson(json, `defect map ${textOrPath}`);
    if (maps) return [mapGroup(textOrPath, maps, 'all')];
    return faultSpecFromJSON(json, `fault spec file ${textOrPath}`);
  }
  if (!textOrPath.split('+').some((t) => MAP_FILE.test(t.split('@')[0].trim()))) return parseFaultSpec(textOrPath);
  return textOrPath.split('+').flatMap((raw) => {
    const term = raw.trim();
    const [body, layerPart] = term.split('@');
    const file = body.trim();
    if (!MAP_FILE.test(file)) return parseFaultSpec(term);
    return [mapGroup(file, readMapFile(file), parseLayers(layerPart, term))];
  });
}

function mapGroup(source: string, arrays: ArrayMap[], layers: FaultGroup['layers']): FaultGroup {
  return { patterns: [], layers, maps: { source, arrays } };
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
