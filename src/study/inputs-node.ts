/** A study's inputs named on the command line and read from disk: model, device, technology file. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XbarError } from '../core/errors.js';
import { resolveTech, type Tech } from '../cost/tech.js';
import { type Device, type DeviceInput, resolveDevice } from '../device/config.js';
import { getPreset, type Preset, presets } from '../nn/presets.js';
import { type ModelSpec, parseModelSpec } from '../nn/spec.js';
import { isOnnxPath } from '../onnx/node.js';
import { openModel } from '../onnx/open-node.js';
import type { HardwareOptions } from './inputs.js';

/** A preset name, a JSON file holding a ModelSpec, or a saved model folder / .onnx file (its architecture). */
export function resolveModel(arg: string): { spec: ModelSpec; preset?: Preset } {
  if (presets[arg]) return { spec: presets[arg].spec, preset: presets[arg] };
  if (isOnnxPath(arg) || existsSync(join(arg, 'model.json'))) return { spec: openModel(arg).model.spec };
  if (/\.json$/i.test(arg) || existsSync(arg)) {
    if (!existsSync(arg)) throw new XbarError(`model spec file ${arg} not found`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(arg, 'utf8'));
    } catch (e) {
      throw new XbarError(`model spec ${arg} is not valid JSON: ${(e as Error).message}`);
    }
    return { spec: parseModelSpec(json, arg) };
  }
  return { spec: getPreset(arg).spec };
}

/** A preset name or a JSON device file, with command-line overrides. */
export function deviceFrom(o: HardwareOptions): Device {
  const overrides: Partial<DeviceInput> = {};
  if (o.sigma !== undefined) overrides.programSigma = o.sigma;
  if (o.readNoise !== undefined) overrides.readNoise = o.readNoise;
  if (o.levels !== undefined) overrides.levels = o.levels;
  // Any case: a '.JSON' path is a file too, never a preset name.
  if (/\.json$/i.test(o.device)) {
    if (!existsSync(o.device)) throw new XbarError(`device file ${o.device} not found`);
    let json: DeviceInput;
    try {
      json = JSON.parse(readFileSync(o.device, 'utf8'));
    } catch (e) {
      throw new XbarError(`device file ${o.device} is not valid JSON: ${(e as Error).message}`);
    }
    return resolveDevice(json, overrides, `device file ${o.device}`);
  }
  return resolveDevice(o.device, overrides);
}

/** A technology file from disk (partial files complete from the defaults); one clear line on any problem. */
export function loadTech(file: string | undefined): Tech {
  if (!file) return resolveTech({});
  if (!existsSync(file)) throw new XbarError(`technology file ${file} not found (see src/cost/tech/default.json for the format)`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new XbarError(`technology file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return resolveTech(json, `technology file ${file}`);
}
