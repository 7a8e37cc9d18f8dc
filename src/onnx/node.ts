/** Reading and writing .onnx files and imported model folders (Node only). */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { sha256 } from '../nn/io-node.js';
import type { Model } from '../nn/model.js';
import { encodeWeights, MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelFile } from '../nn/serialize.js';
import { VERSION } from '../version.js';
import { type ExportOptions, exportOnnx } from './export.js';
import { type ImportOptions, importOnnx, type OnnxProvenance } from './import.js';

export const isOnnxPath = (p: string): boolean => p.toLowerCase().endsWith('.onnx');

export function readOnnxFile(path: string, opts: Omit<ImportOptions, 'source'>): { model: Model; provenance: OnnxProvenance } {
  if (!existsSync(path) || !statSync(path).isFile()) throw new XbarError(`ONNX file ${path} not found: pass the path of a .onnx file`);
  const bytes = new Uint8Array(readFileSync(path));
  return importOnnx(bytes, sha256(bytes), { ...opts, source: path });
}

/** The metadata an imported model is saved with (docs/model-format.md: meta.onnx). */
export function importMeta(
  provenance: OnnxProvenance,
  dataset: { name: string; dataDir?: string; numClasses: number; classNames: string[] } | null,
) {
  return {
    xbarVersion: VERSION,
    createdAt: new Date().toISOString(),
    model: `onnx:${basename(provenance.file)}`,
    dataset: dataset?.name ?? null,
    dataDir: dataset?.dataDir ?? null,
    numClasses: dataset?.numClasses ?? null,
    classNames: dataset?.classNames ?? null,
    onnx: provenance,
  };
}

/** The header a model would be saved with, for a model imported in memory (a .onnx --model). */
export function inMemoryFile(model: Model, meta: Record<string, unknown>): ModelFile {
  const { entries, bytes } = encodeWeights(model);
  return {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    spec: model.spec,
    weights: entries,
    weightsFile: 'weights.bin',
    weightsBytes: bytes.length,
    weightsSha256: sha256(bytes),
    meta,
  };
}

/** Writes a saved model (folder) or a .onnx path's import as an ONNX file, atomically. */
export function writeOnnxFile(model: Model, out: string, opts: ExportOptions): number {
  if (!isOnnxPath(out)) throw new XbarError(`--out ${out}: the exported file's name must end in .onnx`);
  const bytes = exportOnnx(model, opts);
  writeFileAtomic(out, bytes);
  return bytes.length;
}
