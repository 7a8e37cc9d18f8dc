import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { XbarError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/fs-node.js';
import { loadModel, saveModel } from '../../nn/io-node.js';
import { formatIssues } from '../../nn/spec.js';
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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits');

/**
 * What `correct eval` reads from corrector.json's meta to regenerate chips. Checked at load so
 * that a damaged file is one line, not a crash deep in the simulator; other meta keys (history,
 * command, training chips) are provenance and kept as they are.
 */
export const correctorMetaSchema = z.looseObject({
  model: z.string().min(1),
  modelSha256: hex64,
  dataset: z.string().min(1),
  device: z.record(z.string(), z.unknown()),
  circuit: z.record(z.string(), z.unknown()),
  population: z.record(z.string(), z.unknown()),
  probes: z.strictObject({ statsImages: z.int().min(0), calibImages: z.int().min(0), ridge: z.number().min(0) }),
  hiddenVoltages: z.array(z.int().min(0)).default([]),
  seed: z.int().min(0),
  trainChips: z.int().min(0),
});
export type CorrectorMeta = z.output<typeof correctorMetaSchema>;

const correctorHeaderSchema = z.looseObject({
  hidden: z.array(z.int().min(1)),
  norm: z.enum(CHIP_NORMS as [ChipNorm, ...ChipNorm[]]),
  calibImages: z.int().min(0).default(0),
  layout: z.looseObject({
    size: z.int().min(1),
    groups: z
      .array(
        z.looseObject({
          name: z.string(),
          weighted: z.int().min(0),
          size: z.int().min(1),
          until: z.int().min(0).nullable(),
          volts: z.number().positive(),
        }),
      )
      .min(1),
  }),
  classes: z.int().min(2),
  // Free-form for a library user's saveCorrector; `correct eval` checks what it needs (correctEvalMeta).
  meta: z.record(z.string(), z.unknown()),
});

/** corrector.json's meta, checked for what `correct eval` needs to regenerate the chips; one line naming the field otherwise. */
export function correctEvalMeta(file: CorrectorFile, dir: string): CorrectorMeta {
  const r = correctorMetaSchema.safeParse(file.meta);
  if (!r.success)
    throw new XbarError(
      `${join(dir, 'corrector.json')} lacks what correct eval needs (${formatIssues(new z.ZodError(r.error.issues.map((i) => ({ ...i, path: ['meta', ...i.path] }))))}): it was not saved by 'xbar correct train', or is damaged`,
    );
  return r.data;
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

/** Reads a saved corrector: corrector.json checked against its schema, and the network beside it. */
export function loadCorrector(dir: string): { corrector: Corrector; file: CorrectorFile } {
  const path = join(dir, 'corrector.json');
  if (!existsSync(path)) throw new XbarError(`no corrector at ${dir}: expected ${path} (train one with 'xbar correct train --out ${dir}')`);
  let file: CorrectorFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new XbarError(`${path} is not valid JSON (${(e as Error).message}): the corrector file is corrupt`);
  }
  if (!isObject(file) || file.format !== CORRECTOR_FORMAT || (file as { kind?: string }).kind !== 'corrector')
    throw new XbarError(`${path} is not a corrector (no "format": "${CORRECTOR_FORMAT}", "kind": "corrector")`);
  if (file.version !== CORRECTOR_FORMAT_VERSION)
    throw new XbarError(`${path}: corrector format version ${file.version} is not supported (this xbar reads ${CORRECTOR_FORMAT_VERSION})`);
  const checked = correctorHeaderSchema.safeParse(file);
  if (!checked.success) throw new XbarError(`${path} is malformed (${formatIssues(checked.error)}): the corrector file is corrupt`);
  if (checked.data.layout.size !== checked.data.layout.groups.reduce((a, g) => a + g.size, 0))
    throw new XbarError(`${path} is malformed (layout.size is not the sum of its groups' sizes): the corrector file is corrupt`);
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
