import { existsSync, readFileSync } from 'node:fs';
import { XbarError } from '../core/errors.js';
import { type FaultSpec, faultSpecFromJSON, parseFaultSpec } from './spec.js';

/** `--faults` takes the text form or the path of a JSON file holding a spec. */
export function loadFaultSpec(textOrPath: string): FaultSpec {
  if (!/\.json$/i.test(textOrPath)) return parseFaultSpec(textOrPath);
  if (!existsSync(textOrPath)) throw new XbarError(`fault spec file ${textOrPath} not found`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(textOrPath, 'utf8'));
  } catch (e) {
    throw new XbarError(`fault spec file ${textOrPath} is not valid JSON: ${(e as Error).message}`);
  }
  return faultSpecFromJSON(json, `fault spec file ${textOrPath}`);
}
