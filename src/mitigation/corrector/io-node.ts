import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { XbarError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs-node.js';
import { loadModel, saveModel } from '../../nn/io-node.js';
import { VERSION } from '../../version.js';
import { type Corrector, correctorSpec, networkCost } from './corrector.js';
import { CHIP_NORMS, type ChipNorm, type FeatureLayout } from './data.js';

/**
 * A saved corrector is a folder: `corrector.json` (this header: what it reads, how it normalises,
 * the main model it belongs to, the defect population and seeds it was trained on) beside the
 * network itself in xbar's model format (`model.json` + `weights.bin`).
 */
export const CORRECTOR_FORMAT = 'xbar-corrector';
export const CORRECTOR_FORMAT_VERSION = 1;

export interface CorrectorFile {
  format: typeof CORRECTOR_FORMAT;
  version: number;
  kind: 'corrector';
  xbarVersion: string;
  createdAt: string;
  hidden: number[];
  norm: ChipNorm;
  calibImages: number;
  layout: FeatureLayout;
  classes: number;
  cost: { parameters: number; macs: number };
  /** Main model, population, device, circuit, probes, seeds, training: what `correct eval` needs to regenerate chips. */
  meta: Record<string, unknown>;
}

export function saveCorrector(dir: string, c: Corrector, meta: Record<string, unknown>): CorrectorFile {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new XbarError(`--out ${dir} is a file, not a folder: choose another path`);
  saveModel(dir, c.model, { role: 'corrector network; see corrector.json' });
  const file: CorrectorFile = {
    format: CORRECTOR_FORMAT,
    version: CORRECTOR_FORMAT_VERSION,
    kind: 'corrector',
    xbarVersion: VERSION,
    createdAt: new Date().toISOString(),
    hidden: c.hidden,
    norm: c.norm,
    calibImages: c.calibImages,
    layout: c.layout,
    classes: c.classes,
    cost: networkCost(c.model),
    meta,
  };
  writeFileAtomic(join(dir, 'corrector.json'), `${JSON.stringify(file, null, 2)}\n`);
  return file;
}

export function loadCorrector(dir: string): { corrector: Corrector; file: CorrectorFile } {
  const path = join(dir, 'corrector.json');
  if (!existsSync(path)) throw new XbarError(`no corrector at ${dir}: expected ${path} (train one with 'xbar correct train --out ${dir}')`);
  let file: CorrectorFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new XbarError(`${path} is not valid JSON (${(e as Error).message}): the corrector file is corrupt`);
  }
  if (!file || file.format !== CORRECTOR_FORMAT || (file as { kind?: string }).kind !== 'corrector')
    throw new XbarError(`${path} is not a corrector (no "format": "${CORRECTOR_FORMAT}", "kind": "corrector")`);
  if (file.version !== CORRECTOR_FORMAT_VERSION)
    throw new XbarError(`${path}: corrector format version ${file.version} is not supported (this xbar reads ${CORRECTOR_FORMAT_VERSION})`);
  if (!CHIP_NORMS.includes(file.norm) || !Array.isArray(file.hidden) || !file.layout?.groups?.length || !(file.classes > 0))
    throw new XbarError(`${path} is incomplete (norm, hidden, layout or classes missing): the corrector file is corrupt`);
  const { model } = loadModel(dir);
  const expected = JSON.stringify(correctorSpec(file.layout.size, file.classes, file.hidden));
  if (JSON.stringify(model.spec) !== expected)
    throw new XbarError(`${dir}: the network in model.json does not match corrector.json: the folder mixes two correctors`);
  return {
    corrector: {
      hidden: file.hidden,
      norm: file.norm,
      calibImages: file.calibImages ?? 0,
      model,
      layout: file.layout,
      classes: file.classes,
    },
    file,
  };
}
