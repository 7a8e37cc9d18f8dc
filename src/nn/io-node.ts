import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { verifyRunFolder } from '../core/run-manifest.js';
import { foldBatchNorm } from './fold.js';
import type { Model } from './model.js';
import { type DecodeOptions, decodeModel, encodeWeights, MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelFile } from './serialize.js';

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Saves weights first and the header last, so a crash never leaves a header without its weights. */
export function saveModel(dir: string, model: Model, meta: Record<string, unknown>): ModelFile {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new XbarError(`--out ${dir} is a file, not a folder: choose another path`);
  const { entries, bytes } = encodeWeights(model);
  const file: ModelFile = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    spec: model.spec,
    weights: entries,
    weightsFile: 'weights.bin',
    weightsBytes: bytes.length,
    weightsSha256: sha256(bytes),
    meta,
  };
  writeFileAtomic(join(dir, 'weights.bin'), bytes);
  writeFileAtomic(join(dir, 'model.json'), `${JSON.stringify(file, null, 2)}\n`);
  return file;
}

/**
 * The saved model as the crossbar maps it: batch norms folded into the layers they follow
 * (nn/fold.ts), so the software network and the chip's arrays compute the same thing.
 */
export function loadMappedModel(dir: string, opts: DecodeOptions = {}): { model: Model; file: ModelFile; warnings: string[] } {
  const r = loadModel(dir, opts);
  return { ...r, model: foldBatchNorm(r.model) };
}

/** Reads a saved model; NaN or Inf weights are refused unless `opts.nonFinite` is 'warn' (then see `warnings`). */
export function loadModel(dir: string, opts: DecodeOptions = {}): { model: Model; file: ModelFile; warnings: string[] } {
  const headerPath = join(dir, 'model.json');
  if (!existsSync(headerPath))
    throw new XbarError(`no saved model at ${dir}: expected ${headerPath} (train one with 'xbar train --out ${dir}')`);
  // A model in a run folder (xbar train's, or a network of a correctnet run) must be the run's own.
  verifyRunFolder(dir, 1);
  let header: unknown;
  try {
    header = JSON.parse(readFileSync(headerPath, 'utf8'));
  } catch (e) {
    throw new XbarError(`${headerPath} is not valid JSON (${(e as Error).message}): the model file is corrupt`);
  }
  const weightsPath = join(dir, 'weights.bin');
  if (!existsSync(weightsPath)) throw new XbarError(`${dir}: weights.bin is missing beside model.json`);
  return decodeModel(header, new Uint8Array(readFileSync(weightsPath)), dir, sha256, opts);
}
