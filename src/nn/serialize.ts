import { z } from 'zod';
import { XbarError } from '../core/errors.js';
import { buildModel, type Model } from './model.js';
import { formatIssues, parseModelSpec } from './spec.js';
import { size } from './tensor.js';

/**
 * The saved-model format, version 1 (docs/model-format.md): a folder with `model.json` (this
 * header) and `weights.bin` (every parameter as little-endian float32, concatenated in manifest
 * order). Loading gives back the same bits.
 */
export const MODEL_FORMAT = 'xbar-model';
export const MODEL_FORMAT_VERSION = 1;

export interface WeightEntry {
  name: string;
  shape: number[];
  /** Offset into weights.bin, in float32 elements. */
  offset: number;
}

export interface ModelFile {
  format: typeof MODEL_FORMAT;
  version: number;
  spec: Model['spec'];
  weights: WeightEntry[];
  weightsFile: 'weights.bin';
  weightsBytes: number;
  /** SHA-256 of weights.bin, hex: detects a truncated or mismatched weights file. */
  weightsSha256: string;
  /** Free-form provenance: dataset, seed, optimizer, history, accuracy, xbar version, date. */
  meta: Record<string, unknown>;
}

const littleEndian = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

export function encodeWeights(model: Model): { entries: WeightEntry[]; bytes: Uint8Array } {
  if (!littleEndian) throw new XbarError('saving models on a big-endian machine is not supported');
  const total = model.params.reduce((a, p) => a + p.value.length, 0);
  const all = new Float32Array(total);
  const entries: WeightEntry[] = [];
  let offset = 0;
  for (const p of model.params) {
    entries.push({ name: p.name, shape: p.shape, offset });
    all.set(p.value, offset);
    offset += p.value.length;
  }
  return { entries, bytes: new Uint8Array(all.buffer) };
}

/** What to do with NaN or infinite weights: refuse the model (default) or load it with a warning. */
export type NonFinitePolicy = 'refuse' | 'warn';

export interface DecodeOptions {
  nonFinite?: NonFinitePolicy;
}

const weightEntrySchema = z.strictObject({
  name: z.string().min(1),
  shape: z.array(z.int().min(1)),
  offset: z.int().min(0),
});

/**
 * model.json's fields apart from `spec` (parseModelSpec checks that). Extra keys are allowed, so a
 * newer writer's additions do not break this reader; `meta` is free-form but must be an object
 * (absent means none recorded).
 */
const modelHeaderSchema = z.object({
  format: z.literal(MODEL_FORMAT),
  version: z.literal(MODEL_FORMAT_VERSION),
  spec: z.unknown(),
  weights: z.array(weightEntrySchema),
  weightsFile: z.literal('weights.bin').optional(),
  weightsBytes: z.int().min(0),
  weightsSha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 hex digits'),
  meta: z.record(z.string(), z.unknown()).default({}),
});

/**
 * The manifest must lay weights.bin out as the format does (docs/model-format.md): every array
 * right after the previous one, in manifest order, from offset 0 to the last float. The checksum
 * covers the bytes only, so without this a negative, overlapping or swapped offset would load the
 * wrong floats silently (even two arrays of one shape swapped).
 */
export function checkManifest(entries: readonly WeightEntry[], floats: number, source: string): void {
  let end = 0;
  let prev = '';
  for (const e of entries) {
    if (e.offset !== end)
      throw new XbarError(
        `${source}: weight '${e.name}' is at offset ${e.offset} of weights.bin, where the format puts it at ${end} (${prev ? `right after '${prev}'` : 'the start'}): the manifest in model.json is corrupt`,
      );
    end += size(e.shape);
    prev = e.name;
  }
  if (end !== floats)
    throw new XbarError(
      `${source}: the manifest in model.json covers ${end} floats, weights.bin holds ${floats}: the manifest is corrupt or from another model`,
    );
}

/** The first parameter holding NaN or Inf, with the count of such values in it, or null. */
export function findNonFinite(model: Model): { name: string; count: number } | null {
  for (const p of model.params) {
    let count = 0;
    for (let i = 0; i < p.value.length; i++) if (!Number.isFinite(p.value[i])) count++;
    if (count) return { name: p.name, count };
  }
  return null;
}

/**
 * NaN or Inf weights: refused naming the first such array (the default), or, with 'warn', the
 * warning a caller must show. For every way a model is read (model folder, ONNX import).
 */
export function checkFinite(model: Model, source: string, policy: NonFinitePolicy = 'refuse'): string[] {
  const bad = findNonFinite(model);
  if (!bad) return [];
  const what = `${source}: weight '${bad.name}' holds ${bad.count} NaN or infinite value(s)`;
  if (policy === 'refuse')
    throw new XbarError(`${what}: the model diverged or the file is corrupt; retrain it (or pass --allow-nonfinite to load it anyway)`);
  return [`${what}; loaded anyway (--allow-nonfinite): its outputs are not meaningful`];
}

/**
 * Rebuilds the model from its header and weight bytes; `source` names the folder in errors.
 * `warnings` holds what a caller must show the user (non-finite weights loaded on request).
 */
export function decodeModel(
  header: unknown,
  bytes: Uint8Array,
  source: string,
  sha256: (b: Uint8Array) => string,
  opts: DecodeOptions = {},
): { model: Model; file: ModelFile; warnings: string[] } {
  const h = header as Partial<ModelFile> | null;
  if (!h || typeof h !== 'object' || h.format !== MODEL_FORMAT)
    throw new XbarError(`${source}: not an xbar model (model.json has no "format": "${MODEL_FORMAT}")`);
  if (h.version !== MODEL_FORMAT_VERSION)
    throw new XbarError(
      `${source}: model format version ${h.version} is not supported by this xbar (reads version ${MODEL_FORMAT_VERSION}); re-save it with a matching xbar`,
    );
  const parsed = modelHeaderSchema.safeParse(h);
  if (!parsed.success) throw new XbarError(`${source}/model.json is malformed: ${formatIssues(parsed.error)}`);
  const file = { ...parsed.data, weightsFile: 'weights.bin' } as ModelFile;
  const spec = parseModelSpec(file.spec, `${source}/model.json`);
  if (bytes.length !== file.weightsBytes)
    throw new XbarError(
      `${source}: weights.bin has ${bytes.length} bytes, model.json expects ${file.weightsBytes}: the file is truncated or from another model`,
    );
  if (bytes.length % 4)
    throw new XbarError(`${source}: weights.bin has ${bytes.length} bytes, not a whole number of float32 values: the file is corrupt`);
  if (sha256(bytes) !== file.weightsSha256)
    throw new XbarError(`${source}: weights.bin does not match the checksum in model.json: the file is corrupt or from another model`);
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  checkManifest(file.weights, floats.length, source);
  const model = buildModel(spec, 0);
  const entries = file.weights;
  if (entries.length !== model.params.length)
    throw new XbarError(`${source}: model.json lists ${entries.length} weight arrays, the architecture has ${model.params.length}`);
  model.params.forEach((p, i) => {
    const e = entries[i];
    if (e.name !== p.name || e.shape.join('x') !== p.shape.join('x'))
      throw new XbarError(`${source}: weight '${e.name}' [${e.shape}] does not fit the architecture's '${p.name}' [${p.shape}]`);
    p.value.set(floats.subarray(e.offset, e.offset + p.value.length));
  });
  const warnings = checkFinite(model, source, opts.nonFinite);
  return { model, file, warnings };
}
