import { XbarError } from '../core/errors.js';
import { buildModel, type Model } from './model.js';
import { parseModelSpec } from './spec.js';
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

/** Rebuilds the model from its header and weight bytes; `source` names the folder in errors. */
export function decodeModel(
  header: unknown,
  bytes: Uint8Array,
  source: string,
  sha256: (b: Uint8Array) => string,
): { model: Model; file: ModelFile } {
  const h = header as Partial<ModelFile> | null;
  if (!h || typeof h !== 'object' || h.format !== MODEL_FORMAT)
    throw new XbarError(`${source}: not an xbar model (model.json has no "format": "${MODEL_FORMAT}")`);
  if (h.version !== MODEL_FORMAT_VERSION)
    throw new XbarError(
      `${source}: model format version ${h.version} is not supported by this xbar (reads version ${MODEL_FORMAT_VERSION}); re-save it with a matching xbar`,
    );
  const spec = parseModelSpec(h.spec, `${source}/model.json`);
  if (bytes.length !== h.weightsBytes)
    throw new XbarError(
      `${source}: weights.bin has ${bytes.length} bytes, model.json expects ${h.weightsBytes}: the file is truncated or from another model`,
    );
  if (sha256(bytes) !== h.weightsSha256)
    throw new XbarError(`${source}: weights.bin does not match the checksum in model.json: the file is corrupt or from another model`);
  const model = buildModel(spec, 0);
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const entries = h.weights ?? [];
  if (entries.length !== model.params.length)
    throw new XbarError(`${source}: model.json lists ${entries.length} weight arrays, the architecture has ${model.params.length}`);
  model.params.forEach((p, i) => {
    const e = entries[i];
    if (e.name !== p.name || e.shape.join('x') !== p.shape.join('x') || e.offset + size(e.shape) > floats.length)
      throw new XbarError(`${source}: weight '${e.name}' [${e.shape}] does not fit the architecture's '${p.name}' [${p.shape}]`);
    p.value.set(floats.subarray(e.offset, e.offset + p.value.length));
  });
  return { model, file: h as ModelFile };
}
