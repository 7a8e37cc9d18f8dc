import { existsSync, readFileSync } from 'node:fs';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { Rng } from '../core/rng.js';
import { countFaults, generateFaultMap } from './pattern.js';
import { FAULT_MAP_FORMAT, FAULT_MAP_VERSION, faultMapsToSVG, faultMapToJSON } from './render.js';
import { type FaultSpec, faultSpecFromJSON, formatFaultSpec, parseFaultSpec } from './spec.js';

/** `--faults` takes the text form or the path of a JSON file holding a spec. */
export function loadFaultSpec(textOrPath: string): FaultSpec {
  if (!textOrPath.endsWith('.json')) return parseFaultSpec(textOrPath);
  if (!existsSync(textOrPath)) throw new XbarError(`fault spec file ${textOrPath} not found`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(textOrPath, 'utf8'));
  } catch (e) {
    throw new XbarError(`fault spec file ${textOrPath} is not valid JSON: ${(e as Error).message}`);
  }
  return faultSpecFromJSON(json, `fault spec file ${textOrPath}`);
}

export interface DrawOptions {
  spec: string;
  rows: number;
  cols: number;
  seed: number;
  out: string;
}

/** `xbar faults`: draws one array's map from a spec into an SVG picture or a JSON file, to preview a pattern. */
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
